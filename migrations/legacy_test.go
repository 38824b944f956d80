package migrations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// indexUploader is a real Uploader for these tests: it hashes the body,
// refuses bytes that do not match the expected digest, and stores the
// version in a real index.DB. (It keeps no blobs: the repository does
// that; here the index record is the import's result.)
type indexUploader struct {
	db *index.DB
}

var errMismatch = errors.New("bytes do not match their digest")

func (u *indexUploader) Upload(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest) (index.Record, error) {
	if err := ctx.Err(); err != nil {
		return index.Record{}, err
	}
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return index.Record{}, err
	}
	got := digest.NewDigest(digest.SHA256, h)
	if expected != "" && got != expected {
		return index.Record{}, fmt.Errorf("module %s: %w: listed %s, bytes are %s", ref, errMismatch, expected, got)
	}
	rec, _, err := u.db.Add(index.Entry{Ref: ref, Digest: got, Size: n})
	return rec, err
}

func newUploader(t *testing.T) *indexUploader {
	t.Helper()
	db, err := index.Open(filepath.Join(t.TempDir(), "index.db"), index.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("index check: %v", err)
		}
		db.Close()
	})
	return &indexUploader{db: db}
}

func hexHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// legacyFixtureModule is one listed version of testdata/legacy.
type legacyFixtureModule struct {
	key, version string
	nameField    string // the "name" field; key when empty
	file         string // as listed
	bytes        []byte // written to file, unless nil
	hash         string // as listed
}

func legacyFixture() []legacyFixtureModule {
	tiny := testutil.TinyWasm
	m := func(key, version string, content []byte) legacyFixtureModule {
		return legacyFixtureModule{key: key, version: version, file: key + "-" + version + ".wasm", bytes: content, hash: hexHash(content)}
	}
	broken := m("broken", "1.0.0", testutil.Wasm("broken", 0))
	broken.hash = hexHash(testutil.Wasm("what was listed", 0)) // the bytes on disk differ
	ghost := m("ghost", "2.0.0", testutil.Wasm("ghost", 0))
	ghost.bytes = nil // listed, never written
	escape := m("escape", "1.0.0", testutil.Wasm("escape", 0))
	escape.file, escape.bytes = "../escape-1.0.0.wasm", nil // the test puts it there
	named := m("named", "1.0.0", testutil.Wasm("named", 0))
	named.nameField = "other"
	upper := m("upper", "1.0.0", testutil.Wasm("upper", 0))
	upper.hash = strings.ToUpper(upper.hash) // early gpmd wrote upper-case hex at times
	return []legacyFixtureModule{
		m("math", "v0.0.1", testutil.Wasm("math 0.0.1", 0)),
		m("math", "0.1.0", testutil.Wasm("math 0.1.0", 0)),
		m("math", "v0.2.0-rc.1", testutil.Wasm("math 0.2.0-rc.1", 0)),
		m("math", "v0.10.0", testutil.Wasm("math 0.10.0", 0)),
		m("tiny", "v0.0.1", tiny),
		m("copy", "1.0.0", testutil.Wasm("math 0.1.0", 0)), // same bytes as math 0.1.0
		m("dup", "1.0.0", testutil.Wasm("dup a", 0)),
		m("dup", "v1.0.0", testutil.Wasm("dup b", 0)), // same version, other bytes: a conflict
		broken,
		ghost,
		m("Bad.Name", "1.0.0", testutil.Wasm("bad name", 0)),
		m("short", "1.2", testutil.Wasm("short", 0)),
		escape,
		named,
		upper,
	}
}

// writeLegacyFixture writes an early gpmd's store into dir.
func writeLegacyFixture(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := map[string]*modulesjson.Module{}
	for _, f := range legacyFixture() {
		mod := doc[f.key]
		if mod == nil {
			name := f.nameField
			if name == "" {
				name = f.key
			}
			mod = &modulesjson.Module{Name: name, Versions: map[string]modulesjson.Version{}}
			doc[f.key] = mod
		}
		mod.Versions[f.version] = modulesjson.Version{Version: f.version, File: f.file, Hash: f.hash}
		if f.bytes != nil {
			if err := os.WriteFile(filepath.Join(dir, f.file), f.bytes, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyLegacyFixture copies testdata/legacy into a fresh folder and puts
// the file that the "escape" entry points at beside it (outside it), with
// the right bytes, so that only the path rule can refuse it.
func copyLegacyFixture(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range readTree(t, "testdata/legacy") {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "escape-1.0.0.wasm"), testutil.Wasm("escape", 0), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestImportLegacy(t *testing.T) {
	dir := copyLegacyFixture(t)
	up := newUploader(t)
	rep, err := ImportLegacy(t.Context(), dir, up)
	if err != nil {
		t.Fatal(err)
	}
	var imported []string
	for _, r := range rep.Imported {
		imported = append(imported, r.Name+"@"+r.Version)
	}
	wantImported := []string{"copy@1.0.0", "dup@1.0.0", "math@v0.0.1", "math@0.1.0", "math@v0.2.0-rc.1", "math@v0.10.0", "tiny@v0.0.1", "upper@1.0.0"}
	if !slices.Equal(imported, wantImported) {
		t.Fatalf("imported %v, want %v", imported, wantImported)
	}
	// Each refusal names the module and says why.
	wantRefused := map[string]string{
		"Bad.Name@1.0.0": "beginning with a letter",
		"broken@1.0.0":   errMismatch.Error(),
		"dup@v1.0.0":     errdefs.ErrConflict.Error(),
		"escape@1.0.0":   "leaves the folder",
		"ghost@2.0.0":    "missing",
		"named@1.0.0":    `named "other"`,
		"short@1.2":      "use a full version such as v1.2.0",
	}
	got := map[string]string{}
	for _, r := range rep.Refused {
		got[r.Name+"@"+r.Version] = r.Reason
	}
	if len(got) != len(wantRefused) {
		t.Errorf("refused %v, want %d refusals", got, len(wantRefused))
	}
	for k, want := range wantRefused {
		if reason, ok := got[k]; !ok || !strings.Contains(reason, want) {
			t.Errorf("refusal of %s = %q, want a reason containing %q", k, reason, want)
		}
	}
	// Every imported version resolves to the bytes on disk.
	for _, f := range legacyFixture() {
		if !slices.Contains(wantImported, f.key+"@"+f.version) {
			continue
		}
		rec, err := up.db.Resolve(f.key, f.version)
		if err != nil || rec.Digest != digest.FromBytes(f.bytes) || rec.Size != int64(len(f.bytes)) {
			t.Errorf("%s@%s resolves to %+v, %v", f.key, f.version, rec, err)
		}
	}
	if rec, err := up.db.Resolve("math", "latest"); err != nil || rec.Version != "v0.10.0" {
		t.Errorf("latest math = %q, %v", rec.Version, err)
	}

	// Importing again changes nothing and refuses the same.
	rep2, err := ImportLegacy(t.Context(), dir, up)
	if err != nil || len(rep2.Imported) != len(rep.Imported) || len(rep2.Refused) != len(rep.Refused) {
		t.Fatalf("second import: %d imported, %d refused, %v", len(rep2.Imported), len(rep2.Refused), err)
	}
	s, _ := up.db.Stats()
	if s.Versions != len(wantImported) {
		t.Fatalf("index holds %d versions after two imports, want %d", s.Versions, len(wantImported))
	}
}

func TestImportLegacyAbsolutePaths(t *testing.T) {
	dir := copyLegacyFixture(t)
	outside := filepath.Join(t.TempDir(), "outside-1.0.0.wasm")
	if err := os.WriteFile(outside, testutil.Wasm("outside", 0), 0o644); err != nil {
		t.Fatal(err)
	}
	absDir, _ := filepath.Abs(dir)
	doc := map[string]modulesjson.Module{
		"inside": {Name: "inside", Versions: map[string]modulesjson.Version{
			"1.0.0": {Version: "1.0.0", File: filepath.Join(absDir, "tiny-v0.0.1.wasm"), Hash: hexHash(testutil.TinyWasm)},
			// An absolute path that climbs out and back in is inside.
			"1.0.1": {Version: "1.0.1", File: absDir + "/../store/tiny-v0.0.1.wasm", Hash: hexHash(testutil.TinyWasm)},
		}},
		"outside": {Name: "outside", Versions: map[string]modulesjson.Version{
			"1.0.0": {Version: "1.0.0", File: outside, Hash: hexHash(testutil.Wasm("outside", 0))},
		}},
		"sneaky": {Name: "sneaky", Versions: map[string]modulesjson.Version{
			"1.0.0": {Version: "1.0.0", File: "sub/../../outside.wasm", Hash: hexHash(testutil.Wasm("outside", 0))},
		}},
	}
	data, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := ImportLegacy(t.Context(), dir, newUploader(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Imported) != 2 || rep.Imported[0].Name != "inside" || rep.Imported[1].Name != "inside" {
		t.Fatalf("imported %+v, want inside@1.0.0 and inside@1.0.1", rep.Imported)
	}
	if len(rep.Refused) != 2 || rep.Refused[0].Name != "outside" || rep.Refused[1].Name != "sneaky" {
		t.Fatalf("refused %+v, want outside and sneaky", rep.Refused)
	}
	for _, r := range rep.Refused {
		if !strings.Contains(r.Reason, "leaves the folder") {
			t.Errorf("refusal of %s: %q", r.Name, r.Reason)
		}
	}
}

// TestReadLegacyMirrorShape: gpmd's own mirror (file = blobs/sha256/<hex>,
// plus digest, size and created) reads and imports like an early store.
func TestReadLegacyMirrorShape(t *testing.T) {
	dir := t.TempDir()
	blobDir := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobDir, 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := testutil.Wasm("a", 0), testutil.Wasm("b", 0)
	for _, c := range [][]byte{a, b} {
		if err := os.WriteFile(filepath.Join(blobDir, hexHash(c)), c, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	mirror := fmt.Sprintf(`{
  "alpha": {"name": "alpha", "versions": {
    "v1.0.0": {"version": "v1.0.0", "file": "blobs/sha256/%[1]s", "hash": "%[1]s", "digest": "sha256:%[1]s", "size": %[3]d, "created": "%[4]s"},
    "1.1.0-rc.1": {"version": "1.1.0-rc.1", "file": "blobs/sha256/%[2]s", "hash": "%[2]s", "digest": "sha256:%[2]s", "size": %[3]d, "created": "%[4]s"}}},
  "beta": {"name": "beta", "versions": {
    "0.1.0": {"version": "0.1.0", "file": "blobs/sha256/%[2]s", "digest": "sha256:%[2]s", "size": %[3]d, "created": "%[4]s"},
    "0.2.0": {"version": "0.2.0", "file": "blobs/sha256/%[2]s", "hash": "%[1]s", "digest": "sha256:%[2]s"}}}
}`, hexHash(a), hexHash(b), len(a), created.Format(time.RFC3339Nano))
	if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), []byte(mirror), 0o644); err != nil {
		t.Fatal(err)
	}
	if !IsLegacyStore(dir) {
		t.Fatal("IsLegacyStore(mirror) = false")
	}
	entries, err := modulesjson.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name+"@"+e.Version)
	}
	if want := []string{"alpha@v1.0.0", "alpha@1.1.0-rc.1", "beta@0.1.0", "beta@0.2.0"}; !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	e := entries[0]
	if e.Err != nil || e.File != filepath.Join(dir, "blobs", "sha256", hexHash(a)) || e.Digest != digest.FromBytes(a) ||
		e.Size != int64(len(a)) || !e.Created.Equal(created) {
		t.Fatalf("entry %+v", e)
	}
	if entries[3].Err == nil || !strings.Contains(entries[3].Err.Error(), "disagree") {
		t.Fatalf("hash and digest that disagree: %v", entries[3].Err)
	}
	rep, err := ImportLegacy(t.Context(), dir, newUploader(t))
	if err != nil || len(rep.Imported) != 3 || len(rep.Refused) != 1 || rep.Refused[0].Name != "beta" {
		t.Fatalf("import of the mirror: %+v, %v", rep, err)
	}
}

func TestReadLegacyOrderAndFields(t *testing.T) {
	entries, err := modulesjson.Read("testdata/legacy")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name+"@"+e.Version)
	}
	want := []string{"Bad.Name@1.0.0", "broken@1.0.0", "copy@1.0.0", "dup@1.0.0", "dup@v1.0.0", "escape@1.0.0", "ghost@2.0.0",
		"math@v0.0.1", "math@0.1.0", "math@v0.2.0-rc.1", "math@v0.10.0", "named@1.0.0", "short@1.2", "tiny@v0.0.1", "upper@1.0.0"}
	if !slices.Equal(got, want) {
		t.Fatalf("entries\n %v\nwant\n %v", got, want)
	}
	abs, _ := filepath.Abs("testdata/legacy")
	for _, e := range entries {
		if e.Err != nil {
			continue
		}
		if e.File != filepath.Join(abs, e.Name+"-"+e.Version+".wasm") || e.Size != -1 || !e.Created.IsZero() {
			t.Errorf("entry %+v", e)
		}
		if e.Name == "upper" && e.Digest != digest.FromBytes(testutil.Wasm("upper", 0)) {
			t.Errorf("upper-case hash read as %s", e.Digest)
		}
	}
}

func TestLegacyNotAStore(t *testing.T) {
	cases := map[string]string{
		"not json":        "{",
		"array":           `[{"name": "a"}]`,
		"null":            `null`,
		"module a string": `{"a": "x"}`,
		"module null":     `{"a": null}`,
		"versions array":  `{"a": {"name": "a", "versions": []}}`,
		"size a string":   `{"a": {"name": "a", "versions": {"1.0.0": {"size": "big"}}}}`,
	}
	for name, content := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if IsLegacyStore(dir) {
			t.Errorf("%s: IsLegacyStore = true", name)
		}
		if _, err := modulesjson.Read(dir); err == nil {
			t.Errorf("%s: modulesjson.Read succeeded", name)
		}
		rep, err := ImportLegacy(t.Context(), dir, nil)
		if err == nil || len(rep.Imported)+len(rep.Refused) != 0 {
			t.Errorf("%s: ImportLegacy = %+v, %v", name, rep, err)
		}
	}
	empty := t.TempDir()
	if IsLegacyStore(empty) {
		t.Error("IsLegacyStore(empty folder) = true")
	}
	if _, err := ImportLegacy(t.Context(), empty, nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ImportLegacy(empty folder) = %v, want ErrNotExist", err)
	}
	if !IsLegacyStore("testdata/legacy") {
		t.Error("IsLegacyStore(fixture) = false")
	}
}

func TestImportLegacyCancelled(t *testing.T) {
	dir := copyLegacyFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := ImportLegacy(ctx, dir, newUploader(t))
	if !errors.Is(err, context.Canceled) || len(rep.Imported) != 0 {
		t.Fatalf("ImportLegacy with a cancelled context = %+v, %v", rep, err)
	}
}
