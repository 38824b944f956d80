package migrations

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ghost-network/gpmd/errdefs"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// LegacyFile is the name of the early gpmd's module list, and of the
// mirror that gpmd keeps in the same shape.
const LegacyFile = "ghost.modules.json"

// LegacyEntry is one version listed by an early gpmd's ghost.modules.json
// (or by gpmd's own mirror, which has the same shape).
type LegacyEntry struct {
	Name    string
	Version string
	File    string        // absolute path of <name>-<version>.wasm (or of the mirror's blob)
	Digest  digest.Digest // from the legacy hex hash (or the mirror's digest)
	// Size and Created are in the mirror's shape only: -1 and zero when
	// the file does not say.
	Size    int64
	Created time.Time
	// Err says why the entry cannot be imported as listed (a bad name,
	// version, hash or file path); nil when it looks right. ReadLegacy
	// reports such entries instead of failing, so that one bad entry
	// does not hide the others.
	Err error
}

// Uploader is what an import puts modules into: the repository in-process,
// or the daemon's control API from the CLI.
type Uploader interface {
	// Upload stores body as name@version. expected is the digest the
	// bytes must have; on a mismatch Upload fails and stores nothing.
	// Uploading a version that exists with the same bytes succeeds.
	Upload(ctx context.Context, name, version string, body io.Reader, expected digest.Digest) (index.Record, error)
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported []index.Record `json:"imported"`
	Refused  []Refusal      `json:"refused"`
}

// Refusal is one legacy version left out, and why.
type Refusal struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// The shape of ghost.modules.json: an object keyed by module name. The
// early gpmd wrote version, file and hash; gpmd's mirror adds digest, size
// and created.
type legacyModule struct {
	Name     string                   `json:"name"`
	Versions map[string]legacyVersion `json:"versions"`
}

type legacyVersion struct {
	Version string     `json:"version"`
	File    string     `json:"file"`
	Hash    string     `json:"hash"`
	Digest  string     `json:"digest"`
	Size    *int64     `json:"size"`
	Created *time.Time `json:"created"`
}

// readLegacyFile parses dir's ghost.modules.json. Only a file that cannot
// be read or is not in the shape fails.
func readLegacyFile(dir string) (map[string]legacyModule, error) {
	path := filepath.Join(dir, LegacyFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var mods map[string]*legacyModule
	if err := json.Unmarshal(data, &mods); err != nil {
		return nil, fmt.Errorf("%s: not an object of modules {\"<name>\": {\"name\", \"versions\": {...}}}: %w", path, err)
	}
	if mods == nil {
		return nil, fmt.Errorf("%s: null, want an object of modules", path)
	}
	out := make(map[string]legacyModule, len(mods))
	for key, m := range mods {
		if m == nil {
			return nil, fmt.Errorf("%s: module %q is null, want {\"name\", \"versions\": {...}}", path, key)
		}
		out[key] = *m
	}
	return out, nil
}

// IsLegacyStore reports whether dir holds an early gpmd's store:
// a ghost.modules.json that parses in that shape. gpmd's own mirror has
// the same shape, so a gpmd store answers true as well.
func IsLegacyStore(dir string) bool {
	_, err := readLegacyFile(dir)
	return err == nil
}

// ReadLegacy parses <dir>/ghost.modules.json of an early gpmd, or gpmd's
// own mirror. Entries come names sorted, each name's versions in semver
// order (versions that do not parse last). It fails only when the file
// cannot be read or parsed; an entry that cannot be imported as listed
// carries the reason in Err.
func ReadLegacy(dir string) ([]LegacyEntry, error) {
	mods, err := readLegacyFile(dir)
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
	var entries []LegacyEntry
	for _, key := range names {
		m := mods[key]
		var vs []LegacyEntry
		for vkey, lv := range m.Versions {
			vs = append(vs, legacyEntry(absDir, key, m.Name, vkey, lv))
		}
		slices.SortFunc(vs, compareEntryVersions)
		entries = append(entries, vs...)
	}
	return entries, nil
}

func compareEntryVersions(a, b LegacyEntry) int {
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

// legacyEntry checks one listed version. key and vkey are the object keys;
// name and lv.Version repeat them (the early gpmd wrote both).
func legacyEntry(absDir, key, name, vkey string, lv legacyVersion) LegacyEntry {
	e := LegacyEntry{Name: key, Version: vkey, Size: -1}
	if lv.Size != nil {
		e.Size = *lv.Size
	}
	if lv.Created != nil {
		e.Created = *lv.Created
	}
	fail := func(format string, args ...any) LegacyEntry {
		e.Err = fmt.Errorf(format, args...)
		return e
	}
	if name != "" && name != key {
		return fail("listed under %q but named %q", key, name)
	}
	if lv.Version != "" && lv.Version != vkey {
		return fail("listed as version %q but says version %q", vkey, lv.Version)
	}
	if err := index.ValidateName(key); err != nil {
		return fail("%w", err)
	}
	if _, err := index.ParseVersion(vkey); err != nil {
		return fail("%w", err)
	}
	d, err := legacyDigest(lv)
	if err != nil {
		return fail("%w", err)
	}
	e.Digest = d
	path, err := legacyPath(absDir, lv.File)
	if err != nil {
		return fail("%w", err)
	}
	e.File = path
	return e
}

// legacyDigest reads the hex hash of the early shape and the digest of the
// mirror's; where both are present they must agree.
func legacyDigest(lv legacyVersion) (digest.Digest, error) {
	var fromHash, fromDigest digest.Digest
	if lv.Hash != "" {
		h := strings.ToLower(strings.TrimPrefix(lv.Hash, "sha256:"))
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
			return "", fmt.Errorf("hash %q: %w: want 64 hex digits of SHA-256", lv.Hash, errdefs.ErrInvalid)
		}
		fromHash = digest.NewDigestFromEncoded(digest.SHA256, h)
	}
	if lv.Digest != "" {
		d := digest.Digest(lv.Digest)
		if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
			return "", fmt.Errorf("digest %q: %w: want sha256:<64 hex>", lv.Digest, errdefs.ErrInvalid)
		}
		fromDigest = d
	}
	switch {
	case fromHash == "" && fromDigest == "":
		return "", fmt.Errorf("%w: no hash", errdefs.ErrInvalid)
	case fromHash != "" && fromDigest != "" && fromHash != fromDigest:
		return "", fmt.Errorf("%w: hash %s and digest %s disagree", errdefs.ErrInvalid, lv.Hash, lv.Digest)
	case fromDigest != "":
		return fromDigest, nil
	}
	return fromHash, nil
}

// legacyPath resolves file against absDir. Relative paths are the rule;
// absolute ones appear in old files and are accepted when they lie inside
// the folder. Anything that leaves the folder is refused.
func legacyPath(absDir, file string) (string, error) {
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

// ImportLegacy uploads every legacy version whose bytes match its hash and
// reports each one that does not (or fails otherwise: a missing file, a
// bad name or version, bytes the uploader refuses, a conflict with what is
// stored) by name, version and reason; the import goes on past each. The
// order is ReadLegacy's. It fails only when ghost.modules.json cannot be
// read or parsed, or when ctx ends (with what was done so far).
// Importing again is harmless: versions already there with the same bytes
// succeed again.
func ImportLegacy(ctx context.Context, dir string, up Uploader) (ImportReport, error) {
	report := ImportReport{Imported: []index.Record{}, Refused: []Refusal{}}
	entries, err := ReadLegacy(dir)
	if err != nil {
		return report, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		rec, err := importOne(ctx, up, e)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return report, cerr
			}
			report.Refused = append(report.Refused, Refusal{Name: e.Name, Version: e.Version, Reason: err.Error()})
			continue
		}
		report.Imported = append(report.Imported, rec)
	}
	return report, nil
}

func importOne(ctx context.Context, up Uploader, e LegacyEntry) (index.Record, error) {
	if e.Err != nil {
		return index.Record{}, e.Err
	}
	f, err := os.Open(e.File)
	if errors.Is(err, fs.ErrNotExist) {
		return index.Record{}, fmt.Errorf("file %s is missing", e.File)
	}
	if err != nil {
		return index.Record{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return index.Record{}, err
	} else if !fi.Mode().IsRegular() {
		return index.Record{}, fmt.Errorf("%s is not a regular file", e.File)
	}
	return up.Upload(ctx, e.Name, e.Version, f, e.Digest)
}
