// Package modulesjson owns ghost.modules.json: its name, its shape, how
// gpmd writes it and how it is read back. One package, because three
// places use it: the repository's mirror writes it (and backups carry it),
// rebuild and restore read it to rebuild an index, and the import of an
// early gpmd's store reads the early shape of the same file.
//
// The file is an object keyed by module name:
//
//	{"<name>": {"name": "<name>",
//	            "versions": {"<version>": {"version": "<version>",
//	                                       "file": "<path of the bytes>",
//	                                       "hash": "<sha256 hex>",
//	                                       "digest": "sha256:<hex>",
//	                                       "size": <bytes>,
//	                                       "created": "<RFC 3339 time, UTC>"}},
//	            "removed": {"<version>": {"version": "<version>",
//	                                      "digest": "sha256:<hex>",
//	                                      "size": <bytes>,
//	                                      "removed": "<RFC 3339 time, UTC>"}}}}
//
// "removed" (gpmd's shape only, left out when empty) holds the tombstones
// of removed versions (index.Tombstone): a rebuild brings them back, so a
// removed version stays immutable. A name whose versions were all removed
// is listed with empty versions and its tombstones.
//
// An early gpmd wrote version, file (<name>-<version>.wasm) and hash;
// gpmd's own mirror adds digest, size and created, with file =
// "blobs/sha256/<hex>". Read takes both shapes.
//
// # Guarantees
//
//   - Encode is deterministic: names sorted, each name's versions highest
//     first (the order of the walk it is given), one version a line, so
//     equal indexes give equal bytes and a mirror can be compared with the
//     index byte for byte.
//   - Encode writes every field a Record holds, created included, so Read
//     gives back name, version, digest, size and created time.
//   - Read never follows a file path out of the folder it reads: relative
//     paths are the rule, absolute ones (in some old files) are accepted
//     only inside the folder.
//   - ReadModules (and so Read and ReadTombstones) read only a regular
//     file of at most MaxFileSize bytes, never blocking on a FIFO.
//   - Read fails only when the file cannot be read or is not in the shape;
//     a version that cannot be used as listed carries the reason in its
//     Entry, so that one bad entry does not hide the others.
package modulesjson

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// MaxFileSize is the largest file ReadModules reads: 64 MiB, room for
// about 250,000 versions at some 250 bytes each. A larger file is refused
// (a crafted restore source must not exhaust memory).
const MaxFileSize = 64 << 20

// FileName is the file's name, in the repository folder (and in an early
// gpmd's store folder, and in a backup).
const FileName = "ghost.modules.json"

// Module is one name in the file.
type Module struct {
	Name     string             `json:"name"`
	Versions map[string]Version `json:"versions"`
	// Removed holds the tombstones of removed versions (gpmd's shape
	// only), keyed by version.
	Removed map[string]Removed `json:"removed,omitempty"`
}

// Removed is one tombstone in the file: a version that was removed and
// may only come back with the same bytes.
type Removed struct {
	Version string     `json:"version"`
	Digest  string     `json:"digest"`
	Size    *int64     `json:"size,omitempty"`
	Removed *time.Time `json:"removed,omitempty"`
}

// Version is one version in the file. Digest, Size and Created are in
// gpmd's shape only; Size and Created are pointers so that Read can tell
// "absent" (the early shape) from zero, and all three are left out when
// unset, so that the same type writes the early shape (tests do).
type Version struct {
	Version string     `json:"version"`
	File    string     `json:"file"`
	Hash    string     `json:"hash"`
	Digest  string     `json:"digest,omitempty"`
	Size    *int64     `json:"size,omitempty"`
	Created *time.Time `json:"created,omitempty"`
}

// Encode renders the records that walk yields, and the tombstones tombs,
// as the file's bytes. walk must yield each name's records together, names
// in order and versions highest first (index.DB.Walk does); tombs must be
// in name order (index.DB.Tombstones is). Encode keeps those orders; a
// name's tombstones go in its "removed" object after its versions, and a
// name with only tombstones has empty versions.
func Encode(walk func(func(index.Record) error) error, tombs []index.Tombstone) ([]byte, error) {
	return encode(walk, tombs, 0)
}

// lineSize is about the bytes of one version's line (the mirror of a large
// index is some 340 bytes a version): EncodeRecords sizes its buffer with
// it, so that a mirror of many megabytes is not copied at every doubling.
const lineSize = 384

func encode(walk func(func(index.Record) error) error, tombs []index.Tombstone, sizeHint int) ([]byte, error) {
	w := bytes.NewBuffer(make([]byte, 0, sizeHint))
	w.WriteString("{")
	current := ""
	first := true
	written := false
	// open starts name's object; closeCurrent ends the current one with
	// its removed section. Tombstones of names before the next name are
	// written as names of their own.
	open := func(name string) {
		if written {
			w.WriteString(",")
		}
		written = true
		current = name
		key, _ := json.Marshal(name)
		fmt.Fprintf(w, "\n  %s: {\"name\": %s, \"versions\": {", key, key)
		first = true
	}
	closeCurrent := func() error {
		w.WriteString("}")
		firstGone := true
		for len(tombs) > 0 && tombs[0].Name == current {
			t := tombs[0]
			tombs = tombs[1:]
			if firstGone {
				w.WriteString(", \"removed\": {")
				firstGone = false
			} else {
				w.WriteString(",")
			}
			if _, err := blobstore.RelPath(t.Digest); err != nil {
				return fmt.Errorf("tombstone %s@%s: %w", t.Name, t.Version, err)
			}
			size, removed := t.Size, t.Removed.UTC()
			key, _ := json.Marshal(t.Version)
			val, err := json.Marshal(Removed{Version: t.Version, Digest: t.Digest.String(), Size: &size, Removed: &removed})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n    %s: %s", key, val)
		}
		if !firstGone {
			w.WriteString("}")
		}
		w.WriteString("}")
		current = ""
		return nil
	}
	flushTombsBefore := func(name string) error {
		for len(tombs) > 0 && (name == "" || tombs[0].Name < name) {
			open(tombs[0].Name)
			if err := closeCurrent(); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(func(rec index.Record) error {
		if rec.Name != current {
			if current != "" {
				if err := closeCurrent(); err != nil {
					return err
				}
			}
			if err := flushTombsBefore(rec.Name); err != nil {
				return err
			}
			open(rec.Name)
		}
		if !first {
			w.WriteString(",")
		}
		first = false
		file, err := blobstore.RelPath(rec.Digest)
		if err != nil {
			return fmt.Errorf("module %s@%s: %w", rec.Name, rec.Version, err)
		}
		line, err := appendVersionLine(w.AvailableBuffer(), rec, file)
		if err != nil {
			return err
		}
		w.Write(line)
		return nil
	})
	if err == nil && current != "" {
		err = closeCurrent()
	}
	if err == nil {
		err = flushTombsBefore("")
	}
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", FileName, err)
	}
	w.WriteString("\n}\n")
	return w.Bytes(), nil
}

// appendVersionLine appends one version's line of the file: a newline,
// the indent, "<version>": and the Version object, byte for byte what
// encoding/json writes for it. A whole index is rewritten at every mirror
// write, so the common case (strings that need no escaping, a creation
// time in years 0 to 9999) is written directly, at a fraction of
// encoding/json's cost per line; anything else goes through encoding/json
// (slowVersionLine), which is also the oracle the tests hold this to.
func appendVersionLine(dst []byte, rec index.Record, file string) ([]byte, error) {
	created := rec.Created.UTC()
	hash, dig := rec.Digest.Encoded(), rec.Digest.String()
	if y := created.Year(); y < 0 || y > 9999 || !plainJSON(rec.Version) || !plainJSON(file) || !plainJSON(hash) || !plainJSON(dig) {
		return slowVersionLine(dst, rec, file)
	}
	dst = append(dst, "\n    \""...)
	dst = append(dst, rec.Version...)
	dst = append(dst, `": {"version":"`...)
	dst = append(dst, rec.Version...)
	dst = append(dst, `","file":"`...)
	dst = append(dst, file...)
	dst = append(dst, `","hash":"`...)
	dst = append(dst, hash...)
	dst = append(dst, `","digest":"`...)
	dst = append(dst, dig...)
	dst = append(dst, `","size":`...)
	dst = strconv.AppendInt(dst, rec.Size, 10)
	dst = append(dst, `,"created":"`...)
	dst = created.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `"}`...)
	return dst, nil
}

// slowVersionLine is appendVersionLine through encoding/json.
func slowVersionLine(dst []byte, rec index.Record, file string) ([]byte, error) {
	size, created := rec.Size, rec.Created.UTC()
	v := Version{
		Version: rec.Version,
		File:    file,
		Hash:    rec.Digest.Encoded(),
		Digest:  rec.Digest.String(),
		Size:    &size,
		Created: &created,
	}
	key, _ := json.Marshal(rec.Version)
	val, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	dst = append(dst, "\n    "...)
	dst = append(dst, key...)
	dst = append(dst, ": "...)
	return append(dst, val...), nil
}

// plainJSON reports whether encoding/json writes s as itself in quotes:
// printable ASCII without a quote, a backslash or the characters it
// escapes for HTML (<, >, &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// EncodeRecords is Encode of records and tombstones already in memory, in
// Encode's order (a backup's snapshot).
func EncodeRecords(recs []index.Record, tombs []index.Tombstone) ([]byte, error) {
	return encode(func(fn func(index.Record) error) error {
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	}, tombs, (len(recs)+len(tombs))*lineSize)
}

// Decode parses the file's bytes into its modules, keyed as in the file.
// Only bytes that are not in the shape fail (errdefs.ErrInvalid).
func Decode(data []byte) (map[string]Module, error) {
	var mods map[string]*Module
	if err := json.Unmarshal(data, &mods); err != nil {
		return nil, fmt.Errorf("%w: not an object of modules {\"<name>\": {\"name\", \"versions\": {...}}}: %w", errdefs.ErrInvalid, err)
	}
	if mods == nil {
		return nil, fmt.Errorf("%w: null, want an object of modules", errdefs.ErrInvalid)
	}
	out := make(map[string]Module, len(mods))
	for key, m := range mods {
		if m == nil {
			return nil, fmt.Errorf("%w: module %q is null, want {\"name\", \"versions\": {...}}", errdefs.ErrInvalid, key)
		}
		out[key] = *m
	}
	return out, nil
}

// ReadModules reads and decodes dir's ghost.modules.json.
//
// The file must be a regular file (not a symlink, FIFO or device, which
// are refused without blocking) of at most MaxFileSize bytes: it is parsed
// whole in memory, so that is the bound on what reading it costs (about
// ten times the file's size at the peak).
func ReadModules(dir string) (map[string]Module, error) {
	path := filepath.Join(dir, FileName)
	data, err := fsutil.ReadRegular(path, MaxFileSize)
	if err != nil {
		return nil, err
	}
	mods, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mods, nil
}

// Entry is one version that the file lists, checked.
type Entry struct {
	Name    string
	Version string
	// Ref is Name and Version parsed (index.ParseRef) when Err is nil:
	// the file is untrusted input, checked here once, and the importer
	// hands Ref on to the repository without checking it again.
	Ref    index.Ref
	File   string        // absolute path of the bytes (<name>-<version>.wasm, or the mirror's blob)
	Digest digest.Digest // from the early hex hash or the mirror's digest
	// Size and Created are in gpmd's shape only: -1 and zero when the
	// file does not say.
	Size    int64
	Created time.Time
	// Err says why the entry cannot be used as listed (a bad name,
	// version, hash or file path); nil when it looks right.
	Err error
}

// Read reads dir's ghost.modules.json, in either shape, into checked
// entries: names sorted, each name's versions in semver order (versions
// that do not parse last). It fails only when the file cannot be read or
// decoded; an entry that cannot be used as listed carries the reason in Err.
func Read(dir string) ([]Entry, error) {
	mods, err := ReadModules(dir)
	if err != nil {
		return nil, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	slices.Sort(names)
	var entries []Entry
	for _, key := range names {
		m := mods[key]
		var vs []Entry
		for vkey, v := range m.Versions {
			vs = append(vs, checkEntry(absDir, key, m.Name, vkey, v))
		}
		slices.SortFunc(vs, compareEntryVersions)
		entries = append(entries, vs...)
	}
	return entries, nil
}

func compareEntryVersions(a, b Entry) int {
	va, ea := index.ParseVersion(a.Version)
	vb, eb := index.ParseVersion(b.Version)
	switch {
	case ea == nil && eb == nil:
		if c := va.Compare(vb); c != 0 {
			return c
		}
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a.Version, b.Version)
}

// checkEntry checks one listed version. key and vkey are the object keys;
// name and v.Version repeat them (the early gpmd wrote both).
func checkEntry(absDir, key, name, vkey string, v Version) Entry {
	e := Entry{Name: key, Version: vkey, Size: -1}
	if v.Size != nil {
		e.Size = *v.Size
	}
	if v.Created != nil {
		e.Created = *v.Created
	}
	fail := func(format string, args ...any) Entry {
		e.Err = fmt.Errorf(format, args...)
		return e
	}
	if name != "" && name != key {
		return fail("listed under %q but named %q", key, name)
	}
	if v.Version != "" && v.Version != vkey {
		return fail("listed as version %q but says version %q", vkey, v.Version)
	}
	ref, err := index.ParseRef(key, vkey)
	if err != nil {
		return fail("%w", err)
	}
	d, err := entryDigest(v)
	if err != nil {
		return fail("%w", err)
	}
	e.Digest = d
	path, err := entryPath(absDir, v.File)
	if err != nil {
		return fail("%w", err)
	}
	e.File = path
	e.Ref = ref
	return e
}

// entryDigest reads the hex hash of the early shape and the digest of
// gpmd's; where both are present they must agree.
func entryDigest(v Version) (digest.Digest, error) {
	var fromHash, fromDigest digest.Digest
	if v.Hash != "" {
		h := strings.ToLower(strings.TrimPrefix(v.Hash, "sha256:"))
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
			return "", fmt.Errorf("hash %q: %w: want 64 hex digits of SHA-256", v.Hash, errdefs.ErrInvalid)
		}
		fromHash = digest.NewDigestFromEncoded(digest.SHA256, h)
	}
	if v.Digest != "" {
		d := digest.Digest(v.Digest)
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return "", fmt.Errorf("digest %q: %w: want sha256:<64 hex>", v.Digest, errdefs.ErrInvalid)
		}
		fromDigest = d
	}
	switch {
	case fromHash == "" && fromDigest == "":
		return "", fmt.Errorf("%w: no hash", errdefs.ErrInvalid)
	case fromHash != "" && fromDigest != "" && fromHash != fromDigest:
		return "", fmt.Errorf("%w: hash %s and digest %s disagree", errdefs.ErrInvalid, v.Hash, v.Digest)
	case fromDigest != "":
		return fromDigest, nil
	}
	return fromHash, nil
}

// entryPath resolves file against absDir. Relative paths are the rule;
// absolute ones appear in old files and are accepted when they lie inside
// the folder. Anything that leaves the folder is refused.
func entryPath(absDir, file string) (string, error) {
	if file == "" {
		return "", fmt.Errorf("%w: no file", errdefs.ErrInvalid)
	}
	rel := file
	if filepath.IsAbs(file) {
		r, err := filepath.Rel(absDir, filepath.Clean(file))
		if err != nil {
			return "", fmt.Errorf("file %q: %w: outside %s", file, errdefs.ErrInvalid, absDir)
		}
		rel = r
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("file %q: %w: it leaves the folder %s", file, errdefs.ErrInvalid, absDir)
	}
	return filepath.Join(absDir, rel), nil
}

// ReadTombstones reads the tombstones of dir's ghost.modules.json (its
// "removed" objects), each checked as an upload would check its name,
// version and digest. Those that fail the check are returned apart, with
// the reason, so that a rebuild can report them.
func ReadTombstones(dir string) (tombs []index.Tombstone, bad []error, err error) {
	mods, err := ReadModules(dir)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		for vkey, r := range mods[name].Removed {
			t, err := checkRemoved(name, vkey, r)
			if err != nil {
				bad = append(bad, fmt.Errorf("removed %q@%q: %w", name, vkey, err))
				continue
			}
			tombs = append(tombs, t)
		}
	}
	slices.SortFunc(tombs, func(a, b index.Tombstone) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), compareEntryVersions(Entry{Version: a.Version}, Entry{Version: b.Version}))
	})
	return tombs, bad, nil
}

func checkRemoved(name, vkey string, r Removed) (index.Tombstone, error) {
	if _, err := index.ParseRef(name, vkey); err != nil {
		return index.Tombstone{}, err
	}
	if r.Version != "" && r.Version != vkey {
		return index.Tombstone{}, fmt.Errorf("%w: listed as version %q but says version %q", errdefs.ErrInvalid, vkey, r.Version)
	}
	d, err := entryDigest(Version{Digest: r.Digest})
	if err != nil {
		return index.Tombstone{}, err
	}
	t := index.Tombstone{Name: name, Version: vkey, Digest: d}
	if r.Size != nil {
		t.Size = *r.Size
	}
	if r.Removed != nil {
		t.Removed = *r.Removed
	}
	return t, nil
}
