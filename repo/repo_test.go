package repo_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// openRepo opens a repository in a fresh folder and checks the store's
// invariants when the test ends.
func openRepo(t testing.TB, opts repo.Options) (*repo.Repo, string) {
	t.Helper()
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkInvariants(t, dir)
	})
	return r, dir
}

// checkInvariants reopens dir and checks that every indexed version has its
// blob with the right bytes, that the mirror equals the index, and that no
// leftover of an interrupted write remains.
func checkInvariants(t testing.TB, dir string) {
	t.Helper()
	r, err := repo.Open(context.Background(), dir, repo.Options{})
	if err != nil {
		t.Errorf("reopen for invariants: %v", err)
		return
	}
	defer r.Close()
	mods, err := r.List(context.Background(), index.Name{})
	if err != nil {
		t.Errorf("list: %v", err)
		return
	}
	for _, m := range mods {
		for _, v := range m.Versions {
			_, rd, err := r.Get(context.Background(), index.MustQuery(m.Name, v.Version))
			if err != nil {
				t.Errorf("invariant: %s@%s: %v", m.Name, v.Version, err)
				continue
			}
			n, err := io.Copy(io.Discard, rd)
			rd.Close()
			if err != nil || n != v.Size {
				t.Errorf("invariant: %s@%s: read %d of %d bytes: %v", m.Name, v.Version, n, v.Size, err)
			}
		}
	}
	compareMirror(t, dir, mods)
	if left, _ := os.ReadDir(filepath.Join(dir, "ingest")); len(left) != 0 {
		t.Errorf("invariant: ingest/ holds %d leftovers after open", len(left))
	}
}

func readMirror(t testing.TB, dir string) map[string]modulesjson.Module {
	t.Helper()
	m, err := modulesjson.ReadModules(dir)
	if err != nil {
		t.Fatalf("mirror: %v", err)
	}
	return m
}

// compareMirror checks that ghost.modules.json says what mods say.
func compareMirror(t testing.TB, dir string, mods []index.Module) {
	t.Helper()
	mirror := readMirror(t, dir)
	// A name whose versions were all removed stays in the mirror for its
	// tombstones only.
	withVersions := 0
	for name, mm := range mirror {
		if len(mm.Versions) > 0 {
			withVersions++
		} else if len(mm.Removed) == 0 {
			t.Errorf("mirror lists %s with neither versions nor tombstones", name)
		}
	}
	if withVersions != len(mods) {
		t.Errorf("mirror has %d modules with versions, index %d", withVersions, len(mods))
	}
	for _, m := range mods {
		mm, ok := mirror[m.Name]
		if !ok || mm.Name != m.Name || len(mm.Versions) != len(m.Versions) {
			t.Errorf("mirror entry for %s = %+v, index has %d versions", m.Name, mm, len(m.Versions))
			continue
		}
		for _, v := range m.Versions {
			mv := mm.Versions[v.Version]
			if mv.Version != v.Version || mv.File != "blobs/sha256/"+v.Digest.Encoded() || mv.Hash != v.Digest.Encoded() ||
				mv.Digest != v.Digest.String() || mv.Size == nil || *mv.Size != v.Size || mv.Created == nil || !mv.Created.Equal(v.Created) {
				t.Errorf("mirror %s@%s = %+v, want version %s, file blobs/sha256/%s, digest %s, size %d, created %v",
					m.Name, v.Version, mv, v.Version, v.Digest.Encoded(), v.Digest, v.Size, v.Created)
			}
			if _, err := os.Stat(filepath.Join(dir, mv.File)); err != nil {
				t.Errorf("mirror %s@%s names a file that is not there: %v", m.Name, v.Version, err)
			}
		}
	}
}

func upload(t testing.TB, r *repo.Repo, name, version string, data []byte) index.Record {
	t.Helper()
	rec, err := r.Upload(context.Background(), index.MustRef(name, version), bytes.NewReader(data), "")
	if err != nil {
		t.Fatalf("upload %s@%s: %v", name, version, err)
	}
	return rec
}

func get(t testing.TB, r *repo.Repo, name, query string) (index.Record, []byte, error) {
	t.Helper()
	rec, rd, err := r.Get(context.Background(), index.MustQuery(name, query))
	if err != nil {
		return rec, nil, err
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	return rec, data, err
}

func TestUploadGetRoundTrip(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	rec := upload(t, r, "tiny", "v0.0.1", testutil.TinyWasm)
	if rec.Name != "tiny" || rec.Version != "v0.0.1" || rec.Digest != testutil.TinyDigest || rec.Size != 8 || rec.Created.IsZero() {
		t.Fatalf("record = %+v", rec)
	}
	got, data, err := get(t, r, "tiny", "")
	if err != nil || !bytes.Equal(data, testutil.TinyWasm) || got.Digest != testutil.TinyDigest {
		t.Fatalf("get = %+v %x %v", got, data, err)
	}
	blob := filepath.Join(dir, "blobs", "sha256", digest.Digest(testutil.TinyDigest).Encoded())
	fi, err := os.Stat(blob)
	if err != nil || fi.Mode().Perm() != 0o400 {
		t.Fatalf("blob file %s: %v %v", blob, fi, err)
	}
}

func TestResolveThroughRepo(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	for i, v := range []string{"v1.0.0", "1.2.0", "v1.3.0-rc.1", "v2.0.0-beta"} {
		upload(t, r, "math", v, testutil.Wasm(fmt.Sprint(i), 64))
	}
	for _, tc := range []struct{ query, want string }{
		{"", "1.2.0"},
		{"latest", "1.2.0"},
		{"v1.2.0", "1.2.0"},
		{"1.0.0", "v1.0.0"},
		{"^1.0", "1.2.0"},
		{"~1.0.0", "v1.0.0"},
		{">=1.3.0-0", "v2.0.0-beta"},
	} {
		rec, data, err := get(t, r, "math", tc.query)
		if err != nil || rec.Version != tc.want {
			t.Errorf("get math %q = %q, %v; want %q", tc.query, rec.Version, err, tc.want)
			continue
		}
		if digest.FromBytes(data) != rec.Digest {
			t.Errorf("get math %q: bytes do not match the record", tc.query)
		}
	}
	if _, _, err := r.Get(t.Context(), index.MustQuery("math", "^3")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("get ^3: %v, want ErrNotFound", err)
	}
	if _, _, err := r.Get(t.Context(), index.MustQuery("nope", "")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("get nope: %v, want ErrNotFound", err)
	}
	if _, err := index.ParseQuery("math", "not a version!"); !errors.Is(err, errdefs.ErrInvalid) { // refused at the boundary, before Get
		t.Errorf("get bad constraint: %v, want ErrInvalid", err)
	}
}

func TestUploadRefusesBadInput(t *testing.T) {
	r, dir := openRepo(t, repo.Options{MaxModuleSize: 1024})
	upload(t, r, "keep", "v1.0.0", testutil.TinyWasm)
	for _, tc := range []struct {
		name, version string
		data          []byte
		expected      digest.Digest
		class         error
		says          string
	}{
		{"empty", "v1.0.0", nil, "", errdefs.ErrEmpty, "no bytes"},
		{"text", "v1.0.0", []byte("hello world, this is text"), "", errdefs.ErrNotWasm, "text"},
		{"gzip", "v1.0.0", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00"), "", errdefs.ErrNotWasm, "gzip"},
		{"elf", "v1.0.0", []byte("\x7fELF\x02\x01\x01\x00\x00"), "", errdefs.ErrNotWasm, "ELF"},
		{"wat", "v1.0.0", []byte("(module (func))"), "", errdefs.ErrNotWasm, "text format"},
		{"short", "v1.0.0", []byte{0, 'a', 's'}, "", errdefs.ErrNotWasm, "3 bytes"},
		{"wasm2", "v1.0.0", []byte{0, 'a', 's', 'm', 2, 0, 0, 0}, "", errdefs.ErrNotWasm, "version 2"},
		{"big", "v1.0.0", testutil.Wasm("1", 1025), "", errdefs.ErrTooLarge, "1 KiB"},
		{"Bad.Name", "v1.0.0", testutil.TinyWasm, "", errdefs.ErrInvalid, "Bad.Name"},
		{"short-version", "1.2", testutil.TinyWasm, "", errdefs.ErrInvalid, "1.2"},
		{"mismatch", "v1.0.0", testutil.TinyWasm, digest.FromString("other"), errdefs.ErrCorrupt, "digest"},
		{"baddigest", "v1.0.0", testutil.TinyWasm, "sha256:xyz", errdefs.ErrInvalid, "sha256:xyz"},
		{"keep", "1.0.0+build7", testutil.Wasm("2", 32), "", errdefs.ErrConflict, "v1.0.0"},
	} {
		// A bad name or version stops at index.ParseRef, the boundary:
		// repo.Upload cannot be called with one.
		ref, err := index.ParseRef(tc.name, tc.version)
		if err == nil {
			_, err = r.Upload(t.Context(), ref, bytes.NewReader(tc.data), tc.expected)
		}
		if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("upload %s@%s: %v; want %v saying %q", tc.name, tc.version, err, tc.class, tc.says)
		}
	}
	if errors.Is(errdefs.ErrNotWasm, errdefs.ErrInvalid) != true || errors.Is(errdefs.ErrEmpty, errdefs.ErrInvalid) != true {
		t.Error("errdefs.ErrNotWasm and errdefs.ErrEmpty must be ErrInvalid too")
	}
	mods, _ := r.List(t.Context(), index.Name{})
	if len(mods) != 1 || len(mods[0].Versions) != 1 || mods[0].Versions[0].Digest != testutil.TinyDigest {
		t.Fatalf("refused uploads changed the store: %+v", mods)
	}
	// Only keep's blob and, at most, the conflicting version's orphan.
	var blobs []string
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blobs = append(blobs, filepath.Base(p))
		}
		return nil
	})
	if len(blobs) > 2 {
		t.Errorf("refused uploads left blobs: %v", blobs)
	}
}

func TestImmutableVersions(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	first := upload(t, r, "math", "v1.0.0", testutil.TinyWasm)
	again := upload(t, r, "math", "v1.0.0", testutil.TinyWasm)
	if again != first {
		t.Errorf("same bytes again = %+v, want the stored %+v", again, first)
	}
	// Semver-equal spelling with the same bytes is the same version.
	if same := upload(t, r, "math", "1.0.0", testutil.TinyWasm); same.Version != "v1.0.0" {
		t.Errorf("1.0.0 with the same bytes = %+v, want the stored v1.0.0", same)
	}
	_, err := r.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(testutil.Wasm("7", 100)), "")
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("other bytes: %v, want ErrConflict", err)
	}
	_, data, err := get(t, r, "math", "v1.0.0")
	if err != nil || !bytes.Equal(data, testutil.TinyWasm) {
		t.Fatalf("the stored version changed: %x %v", data, err)
	}
}

func TestDedupeAndRemoveKeepSharedBlob(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	a := upload(t, r, "alpha", "v1.0.0", testutil.TinyWasm)
	b := upload(t, r, "beta", "v2.0.0", testutil.TinyWasm)
	if a.Digest != b.Digest {
		t.Fatal("same bytes, different digests")
	}
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(blobs) != 1 {
		t.Fatalf("two names with the same bytes made %d blobs", len(blobs))
	}
	st, err := r.Stats(t.Context())
	if err != nil || st.Modules != 2 || st.Versions != 2 || st.Blobs != 1 || st.Bytes != 8 {
		t.Errorf("stats = %+v, %v", st, err)
	}
	if _, err := r.Remove(t.Context(), index.MustRef("alpha", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := get(t, r, "beta", ""); err != nil || !bytes.Equal(data, testutil.TinyWasm) {
		t.Fatalf("removing alpha broke beta: %v", err)
	}
	if _, err := r.Remove(t.Context(), index.MustRef("beta", "v2.0.0")); err != nil {
		t.Fatal(err)
	}
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("last version removed, %d blobs remain", len(blobs))
	}
	if _, err := r.Remove(t.Context(), index.MustRef("beta", "v2.0.0")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
}

func TestCorruptBlobIsNeverHandedOut(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	data := testutil.Wasm("3", 4096)
	rec := upload(t, r, "math", "v1.0.0", data)
	path := filepath.Join(dir, "blobs", "sha256", rec.Digest.Encoded())
	testutil.FlipByte(t, path, 100)

	_, got, err := get(t, r, "math", "v1.0.0")
	if !errors.Is(err, errdefs.ErrModuleCorrupt) || !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "math@v1.0.0") {
		t.Fatalf("read of a corrupt blob: %v (read %d bytes); want errdefs.ErrModuleCorrupt+errdefs.ErrCorrupt naming math@v1.0.0", err, len(got))
	}
	// A truncated blob is caught before any byte is read.
	os.Chmod(path, 0o644)
	os.Truncate(path, 10)
	if _, _, err := r.Get(t.Context(), index.MustQuery("math", "")); !errors.Is(err, errdefs.ErrModuleCorrupt) {
		t.Errorf("truncated blob: %v, want errdefs.ErrModuleCorrupt", err)
	}
	os.Remove(path)
	if _, _, err := r.Get(t.Context(), index.MustQuery("math", "")); !errors.Is(err, errdefs.ErrModuleCorrupt) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing blob: %v, want errdefs.ErrModuleCorrupt ... missing", err)
	}
	// Put the right bytes back so the cleanup invariants hold.
	if _, err := r.Upload(t.Context(), index.MustRef("other", "v1.0.0"), bytes.NewReader(data), rec.Digest); err != nil {
		t.Fatal(err)
	}
}

func TestMirrorFollowsIndexAndIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, r, "math", "v0.0.1", testutil.TinyWasm)
	upload(t, r, "math", "v0.0.2", testutil.Wasm("1", 20))
	upload(t, r, "io", "v1.0.0", testutil.Wasm("2", 20))
	if err := r.FlushMirror(t.Context()); err != nil {
		t.Fatal(err)
	}
	mods, _ := r.List(t.Context(), index.Name{})
	compareMirror(t, dir, mods)
	if _, err := r.Remove(t.Context(), index.MustRef("math", "v0.0.2")); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil { // Close writes the last change.
		t.Fatal(err)
	}
	if m := readMirror(t, dir); len(m["math"].Versions) != 1 {
		t.Fatalf("mirror after close = %+v", m["math"])
	}

	mirrorPath := filepath.Join(dir, modulesjson.FileName)
	for name, damage := range map[string]func(){
		"missing":   func() { os.Remove(mirrorPath) },
		"stale":     func() { os.WriteFile(mirrorPath, []byte(`{"ghost": {"name": "ghost", "versions": {}}}`), 0o644) },
		"truncated": func() { os.Truncate(mirrorPath, 20) },
		"tempfile":  func() { os.WriteFile(filepath.Join(dir, "."+modulesjson.FileName+".123.tmp"), []byte("{"), 0o644) },
	} {
		damage()
		r, err := repo.Open(t.Context(), dir, repo.Options{})
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		mods, _ := r.List(t.Context(), index.Name{})
		compareMirror(t, dir, mods)
		if tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmps) != 0 {
			t.Errorf("%s: leftover temp files %v", name, tmps)
		}
		r.Close()
	}
}

func TestConcurrentUploadsAndReads(t *testing.T) {
	r, _ := openRepo(t, repo.Options{MirrorDelay: 5e6})
	const writers, perWriter = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				// Every writer uploads the shared module (same name, version and
				// bytes: all succeed) and a module of its own.
				if _, err := r.Upload(t.Context(), index.MustRef("shared", "v1.0.0"), bytes.NewReader(testutil.Wasm("99", 5000)), ""); err != nil {
					errs <- fmt.Errorf("shared: %w", err)
				}
				name := fmt.Sprintf("mod-%d", w)
				if _, err := r.Upload(t.Context(), index.MustRef(name, fmt.Sprintf("v1.0.%d", i)), bytes.NewReader(testutil.Wasm(fmt.Sprint(w*1000+i), 3000+i)), ""); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
				}
				if rec, rd, err := r.Get(t.Context(), index.MustQuery("shared", "latest")); err == nil {
					data, err := io.ReadAll(rd)
					rd.Close()
					if err != nil || digest.FromBytes(data) != rec.Digest {
						errs <- fmt.Errorf("concurrent read of shared: %v", err)
					}
				} else if !errors.Is(err, errdefs.ErrNotFound) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mods, _ := r.List(t.Context(), index.Name{})
	if len(mods) != writers+1 {
		t.Fatalf("%d modules, want %d", len(mods), writers+1)
	}
	for _, m := range mods {
		want := perWriter
		if m.Name == "shared" {
			want = 1
		}
		if len(m.Versions) != want {
			t.Errorf("%s has %d versions, want %d", m.Name, len(m.Versions), want)
		}
	}
}

func TestOpenImportsEarlyStoreInPlace(t *testing.T) {
	dir := t.TempDir()
	good := testutil.Wasm("5", 100)
	bad := testutil.Wasm("6", 100)
	os.WriteFile(filepath.Join(dir, "math-v0.0.1.wasm"), good, 0o644)
	os.WriteFile(filepath.Join(dir, "io-v1.0.0.wasm"), bad, 0o644)
	legacy := fmt.Sprintf(`{
 "math": {"name": "math", "versions": {"v0.0.1": {"version": "v0.0.1", "file": "math-v0.0.1.wasm", "hash": %q}}},
 "io": {"name": "io", "versions": {"v1.0.0": {"version": "v1.0.0", "file": "io-v1.0.0.wasm", "hash": %q}}}
}`, digest.FromBytes(good).Encoded(), digest.FromBytes(good).Encoded())
	os.WriteFile(filepath.Join(dir, modulesjson.FileName), []byte(legacy), 0o644)

	r, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, data, err := get(t, r, "math", ""); err != nil || !bytes.Equal(data, good) {
		t.Errorf("imported math: %v", err)
	}
	if _, _, err := r.Get(t.Context(), index.MustQuery("io", "")); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("io's bytes do not match its hash, yet: %v", err)
	}
	if kept, err := os.ReadFile(filepath.Join(dir, repo.LegacyBackupFile)); err != nil || string(kept) != legacy {
		t.Errorf("the early ghost.modules.json was not kept: %v", err)
	}
	for _, f := range []string{"math-v0.0.1.wasm", "io-v1.0.0.wasm"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("early file %s is gone: %v", f, err)
		}
	}
	mods, _ := r.List(t.Context(), index.Name{})
	r.FlushMirror(t.Context())
	compareMirror(t, dir, mods)
}

func TestErrorClassesAreTheSubPackagesOnes(t *testing.T) {
	if errdefs.ErrNotFound != errdefs.ErrNotFound || errdefs.ErrCorrupt != errdefs.ErrCorrupt {
		t.Fatal("repo's error classes must be the index's and blobstore's values, so errors.Is works across packages")
	}
}

// TestMirrorCatchesUpAfterAFailedWrite: when a mirror write fails (here the
// mirror's path is taken by a folder, so the rename fails), the writer tries
// again by itself and the mirror catches up once the cause is gone, with no
// further change to the index.
func TestMirrorCatchesUpAfterAFailedWrite(t *testing.T) {
	r, dir := openRepo(t, repo.Options{MirrorDelay: 10 * time.Millisecond})
	mirrorPath := filepath.Join(dir, modulesjson.FileName)
	if err := os.Remove(mirrorPath); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(mirrorPath, "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	upload(t, r, "math", "v1.0.0", testutil.TinyWasm)
	time.Sleep(100 * time.Millisecond) // the writer tries, and fails
	if fi, err := os.Stat(mirrorPath); err != nil || !fi.IsDir() {
		t.Fatalf("the obstacle is gone too early: %v", err)
	}
	if err := os.RemoveAll(mirrorPath); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the mirror to catch up after the cause went away", func() bool {
		data, err := os.ReadFile(mirrorPath)
		return err == nil && strings.Contains(string(data), `"math"`)
	})
}

// TestConcurrentUploadsGroupCommit: 32 uploads at once (their index
// entries share commits), a quarter of them a version that exists with
// other bytes. After the repository is closed and reopened every upload
// that returned success is there with its digest, and every conflict was
// refused and stored nothing.
func TestConcurrentUploadsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	upload(t, r, "taken", "v1.0.0", testutil.Wasm("first", 4000))
	const n = 32
	type result struct {
		rec  index.Record
		err  error
		want digest.Digest
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name, version := fmt.Sprintf("m%d", i%5), fmt.Sprintf("v1.0.%d", i)
			if i%4 == 3 {
				name, version = "taken", "v1.0.0"
			}
			data := testutil.Wasm(fmt.Sprint("c", i), 64<<10+i)
			rec, err := r.Upload(t.Context(), index.MustRef(name, version), bytes.NewReader(data), "")
			results[i] = result{rec, err, digest.FromBytes(data)}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	defer checkInvariants(t, dir)
	r2, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	for i, res := range results {
		if i%4 == 3 {
			if !errors.Is(res.err, errdefs.ErrConflict) {
				t.Errorf("upload %d over taken@v1.0.0: %v, want ErrConflict", i, res.err)
			}
			continue
		}
		if res.err != nil || res.rec.Digest != res.want {
			t.Errorf("upload %d: %+v, %v", i, res.rec, res.err)
			continue
		}
		rec, rd, err := r2.Get(t.Context(), index.MustQuery(res.rec.Name, res.rec.Version))
		if err != nil {
			t.Errorf("upload %d acknowledged, after reopen: %v", i, err)
			continue
		}
		data, err := io.ReadAll(rd)
		rd.Close()
		if err != nil || rec.Digest != res.want || digest.FromBytes(data) != res.want {
			t.Errorf("upload %d after reopen: %+v, %v", i, rec, err)
		}
	}
	if rec, err := r2.Resolve(t.Context(), index.MustQuery("taken", "v1.0.0")); err != nil || rec.Digest != digest.FromBytes(testutil.Wasm("first", 4000)) {
		t.Errorf("taken@v1.0.0 after the conflicts: %+v, %v", rec, err)
	}
}
