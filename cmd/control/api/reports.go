package api

// The reports of the store's maintenance, as the control API (verify, gc)
// and the commands that work on a store in their own process (restore,
// rebuild-index, backup, import) write them in JSON: repo's and
// migrations' reports, read by a program that links neither.

// Problem is one thing Verify found wrong, or a version a restore lost.
type Problem struct {
	Kind    string `json:"kind"`
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Digest  Digest `json:"digest,omitempty"`
	Message string `json:"message"`
}

// Blob is one blob in a report.
type Blob struct {
	Digest Digest `json:"digest"`
	Size   int64  `json:"size"`
}

// VerifyReport is the body of POST /v1/verify.
type VerifyReport struct {
	Versions     int       `json:"versions"`
	Blobs        int       `json:"blobs"`
	BytesHashed  int64     `json:"bytes_hashed"`
	Problems     []Problem `json:"problems"`
	Garbage      []Blob    `json:"garbage"`
	GarbageBytes int64     `json:"garbage_bytes"`
	// Unsupported lists, with deep, the versions that need a feature the
	// validator lacks: not checked, and not a problem.
	Unsupported []Problem `json:"unsupported,omitempty"`
}

// OK reports whether Verify found no problem.
func (v VerifyReport) OK() bool { return len(v.Problems) == 0 }

// GCReport is the body of POST /v1/gc.
type GCReport struct {
	DryRun    bool     `json:"dry_run"`
	Removed   []Blob   `json:"removed"`
	Bytes     int64    `json:"bytes"`
	Leftovers []string `json:"leftovers"`
}

// BackupReport is what a backup wrote.
type BackupReport struct {
	Versions int   `json:"versions"`
	Blobs    int   `json:"blobs"`
	Bytes    int64 `json:"bytes"`
}

// RestoreReport is what a restore or an index rebuild did.
type RestoreReport struct {
	Source      string        `json:"source"`
	Blobs       int           `json:"blobs"`
	Bytes       int64         `json:"bytes"`
	BadBlobs    []Blob        `json:"bad_blobs"`    // in the source, but their bytes do not match their name
	IndexCopied bool          `json:"index_copied"` // the source's index.db was usable
	Rebuilt     bool          `json:"rebuilt"`      // the index was rebuilt from the mirror and the blobs
	IndexNote   string        `json:"index_note,omitempty"`
	Imported    int           `json:"imported"` // versions rebuilt from the mirror
	Lost        []Problem     `json:"lost"`     // versions the source names whose bytes it does not hold
	Verify      *VerifyReport `json:"verify,omitempty"`
}

// ImportReport is what an import of an early store did.
type ImportReport struct {
	Imported []Record  `json:"imported"`
	Refused  []Refusal `json:"refused"`
	// From is the folder read: the one given, or its modules/ folder.
	// It is not part of the JSON.
	From string `json:"-"`
}

// Refusal is one early version left out, and why (quoted Go-style when it
// holds anything but printable ASCII).
type Refusal struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}
