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
//	                                       "created": "<RFC 3339 time, UTC>"}}}}
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
//   - Read fails only when the file cannot be read or is not in the shape;
//     a version that cannot be used as listed carries the reason in its
//     Entry, so that one bad entry does not hide the others.
package modulesjson

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// FileName is the file's name, in the repository folder (and in an early
// gpmd's store folder, and in a backup).
const FileName = "ghost.modules.json"

// Module is one name in the file.
type Module struct {
	Name     string             `json:"name"`
	Versions map[string]Version `json:"versions"`
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

// Encode renders the records that walk yields as the file's bytes. walk
// must yield each name's records together, names in order and versions
// highest first (index.DB.Walk does); Encode keeps that order.
func Encode(walk func(func(index.Record) error) error) ([]byte, error) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.WriteString("{")
	current := ""
	first := true
	err := walk(func(rec index.Record) error {
		if rec.Name != current {
			if current != "" {
				w.WriteString("}},")
			}
			current = rec.Name
			name, _ := json.Marshal(rec.Name)
			fmt.Fprintf(w, "\n  %s: {\"name\": %s, \"versions\": {", name, name)
			first = true
		}
		if !first {
			w.WriteString(",")
		}
		first = false
		file, err := blobstore.RelPath(rec.Digest)
		if err != nil {
			return fmt.Errorf("module %s@%s: %w", rec.Name, rec.Version, err)
		}
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
			return err
		}
		fmt.Fprintf(w, "\n    %s: %s", key, val)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", FileName, err)
	}
	if current != "" {
		w.WriteString("}}")
	}
	w.WriteString("\n}\n")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// EncodeRecords is Encode of records already in memory, in Encode's order
// (a backup's snapshot).
func EncodeRecords(recs []index.Record) ([]byte, error) {
	return Encode(func(fn func(index.Record) error) error {
		for _, rec := range recs {
			if err := fn(rec); err != nil {
				return err
			}
		}
		return nil
	})
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
func ReadModules(dir string) (map[string]Module, error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
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
	File    string        // absolute path of the bytes (<name>-<version>.wasm, or the mirror's blob)
	Digest  digest.Digest // from the early hex hash or the mirror's digest
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
	if err := index.ValidateName(key); err != nil {
		return fail("%w", err)
	}
	if _, err := index.ParseVersion(vkey); err != nil {
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
