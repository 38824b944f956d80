package repo_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/repo"
)

// orphan leaves a blob that no version names, the way a refused upload does.
func orphan(t *testing.T, r *repo.Repo, name, version string, seed uint64) {
	t.Helper()
	if _, err := r.Upload(t.Context(), index.MustRef(name, version), bytes.NewReader(testutil.Wasm(fmt.Sprint(seed), 777)), ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("want a conflict to leave an orphan, got %v", err)
	}
}

func TestVerifyFindsEachProblemByName(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	a := upload(t, r, "alpha", "v1.0.0", testutil.Wasm("1", 2000))
	b := upload(t, r, "beta", "v1.0.0", testutil.Wasm("2", 2000))
	upload(t, r, "gamma", "v1.0.0", testutil.Wasm("3", 2000))
	orphan(t, r, "gamma", "v1.0.0", 4)

	rep, err := r.Verify(t.Context())
	if err != nil || !rep.OK() || rep.Versions != 3 || rep.Blobs != 4 || len(rep.Garbage) != 1 {
		t.Fatalf("clean store: %+v, %v", rep, err)
	}

	testutil.FlipByte(t, filepath.Join(dir, "blobs", "sha256", a.Digest.Encoded()), 50)
	bPath := filepath.Join(dir, "blobs", "sha256", b.Digest.Encoded())
	saved, _ := os.ReadFile(bPath)
	os.Remove(bPath)
	os.WriteFile(filepath.Join(dir, modulesjson.FileName), []byte("{}\n"), 0o644)

	rep, err = r.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range rep.Problems {
		got[p.Kind] = p.Name + "@" + p.Version + " " + string(p.Digest)
	}
	want := map[string]string{
		repo.ProblemCorrupt:     "alpha@v1.0.0 " + string(a.Digest),
		repo.ProblemMissing:     "beta@v1.0.0 " + string(b.Digest),
		repo.ProblemStaleMirror: "@ ",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || rep.OK() {
		t.Fatalf("problems = %v\nwant %v", got, want)
	}

	// Repair so that the cleanup invariants hold: the right bytes back, the
	// mirror rewritten by a change.
	if _, err := r.Upload(t.Context(), index.MustRef("fix", "v1.0.0"), bytes.NewReader(testutil.Wasm("1", 2000)), a.Digest); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "blobs", "sha256", a.Digest.Encoded()), 0o644)
	os.Remove(filepath.Join(dir, "blobs", "sha256", a.Digest.Encoded()))
	if _, err := r.Upload(t.Context(), index.MustRef("fix", "v1.0.1"), bytes.NewReader(testutil.Wasm("1", 2000)), a.Digest); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bPath, saved, 0o444)
	if rep, _ := r.Verify(t.Context()); !rep.OK() {
		t.Fatalf("after repair: %+v", rep.Problems)
	}
}

func TestGCRemovesOnlyGarbage(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	keep := upload(t, r, "alpha", "v1.0.0", testutil.Wasm("1", 1000))
	upload(t, r, "beta", "v1.0.0", testutil.Wasm("1", 1000)) // shares keep's blob
	orphan(t, r, "alpha", "v1.0.0", 2)
	orphan(t, r, "alpha", "v1.0.0", 3)

	dry, err := r.GC(t.Context(), true)
	if err != nil || len(dry.Removed) != 2 || !dry.DryRun {
		t.Fatalf("dry run = %+v, %v", dry, err)
	}
	if blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); len(blobs) != 3 {
		t.Fatalf("a dry run removed blobs: %d left", len(blobs))
	}
	rep, err := r.GC(t.Context(), false)
	if err != nil || len(rep.Removed) != 2 || rep.Bytes != 2*777 {
		t.Fatalf("gc = %+v, %v", rep, err)
	}
	blobs, _ := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if len(blobs) != 1 || blobs[0].Name() != keep.Digest.Encoded() {
		t.Fatalf("after gc: %v", blobs)
	}
	// rm of one name keeps the blob the other still names, and gc agrees.
	if _, err := r.Remove(t.Context(), index.MustRef("alpha", "v1.0.0")); err != nil {
		t.Fatal(err)
	}
	if rep, _ := r.GC(t.Context(), false); len(rep.Removed) != 0 {
		t.Fatalf("gc removed a blob beta still names: %+v", rep)
	}
	if _, data, err := get(t, r, "beta", ""); err != nil || len(data) != 1000 {
		t.Fatalf("beta after rm alpha + gc: %v", err)
	}
}

// TestGCDuringUploadsNeverTakesANamedBlob runs collections in a loop while
// uploads of the same bytes come and go, so that blobs keep turning into
// garbage and back; every version that exists at the end must read whole
// (checked by the cleanup invariants) and every upload must succeed.
func TestGCDuringUploadsNeverTakesANamedBlob(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	stop := make(chan struct{})
	var gcRuns int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := r.GC(t.Context(), false); err != nil {
				t.Error(err)
				return
			}
			gcRuns++
		}
	}()
	var uploaders sync.WaitGroup
	for w := range 4 {
		uploaders.Add(1)
		go func() {
			defer uploaders.Done()
			for i := range 40 {
				name := fmt.Sprintf("m%d", w)
				version := fmt.Sprintf("v1.0.%d", i)
				// Few distinct contents: the same blob is uploaded, removed
				// (becoming garbage) and uploaded again all the time.
				if _, err := r.Upload(t.Context(), index.MustRef(name, version), bytes.NewReader(testutil.Wasm(fmt.Sprint(i%3), 3000)), ""); err != nil {
					t.Error(err)
					return
				}
				rec, rd, err := r.Get(t.Context(), index.MustQuery(name, version))
				if err != nil {
					t.Errorf("%s@%s right after its upload: %v", name, version, err)
					return
				}
				n, err := io.Copy(io.Discard, rd)
				rd.Close()
				if err != nil || n != rec.Size {
					t.Errorf("%s@%s: %v", name, version, err)
				}
				if i%2 == 0 {
					if _, err := r.Remove(t.Context(), index.MustRef(name, version)); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	uploaders.Wait()
	close(stop)
	wg.Wait()
	if gcRuns == 0 {
		t.Fatal("no collection ran during the uploads")
	}
	t.Logf("%d collections ran during 160 uploads", gcRuns)
}

func TestBackupExtractRestore(t *testing.T) {
	r, _ := openRepo(t, repo.Options{})
	for i := range 5 {
		upload(t, r, fmt.Sprintf("mod%d", i%2), fmt.Sprintf("v1.%d.0", i), testutil.Wasm(fmt.Sprint(i), 500+i))
	}
	orphan(t, r, "mod0", "v1.0.0", 99) // garbage is not backed up
	var stream bytes.Buffer
	rep, err := r.WriteBackup(t.Context(), &stream)
	if err != nil || rep.Versions != 5 || rep.Blobs != 5 {
		t.Fatalf("backup = %+v, %v", rep, err)
	}
	// Changes after the snapshot are not in it.
	upload(t, r, "late", "v1.0.0", testutil.TinyWasm)

	backup := filepath.Join(t.TempDir(), "backup")
	if _, err := repo.ExtractBackup(t.Context(), &stream, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.ExtractBackup(t.Context(), bytes.NewReader(nil), backup); !errors.Is(err, errdefs.ErrNotEmpty) {
		t.Errorf("extract into a non-empty folder: %v", err)
	}
	to := filepath.Join(t.TempDir(), "modules")
	res, err := repo.Restore(t.Context(), backup, to, repo.Options{})
	if err != nil || !res.IndexCopied || res.Verify == nil || !res.Verify.OK() || len(res.Lost) != 0 {
		t.Fatalf("restore = %+v, %v", res, err)
	}
	restored, err := repo.Open(t.Context(), to, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	mods, _ := restored.List(t.Context(), index.Name{})
	if len(mods) != 2 || len(mods[0].Versions)+len(mods[1].Versions) != 5 {
		t.Fatalf("restored %+v", mods)
	}
	for _, m := range mods {
		for _, v := range m.Versions {
			if _, data, err := get(t, restored, m.Name, v.Version); err != nil || int64(len(data)) != v.Size {
				t.Errorf("restored %s@%s: %v", m.Name, v.Version, err)
			}
		}
	}
	if _, err := repo.Restore(t.Context(), backup, to, repo.Options{}); !errors.Is(err, errdefs.ErrNotEmpty) {
		t.Errorf("restore into a non-empty folder: %v", err)
	}
}

// copyTree copies a folder as cp -a would (for a backup taken by hand).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRestoreFromAPlainCopyWithADamagedIndex(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	for i := range 4 {
		upload(t, r, "math", fmt.Sprintf("v0.%d.0", i), testutil.Wasm(fmt.Sprint(i), 300))
	}
	r.FlushMirror(t.Context())
	data := filepath.Join(t.TempDir(), "copy-of-data")
	copyTree(t, dir, filepath.Join(data, "modules"))
	// A copy taken mid-write: the index file is torn.
	idx := filepath.Join(data, "modules", repo.IndexFile)
	os.WriteFile(idx, bytes.Repeat([]byte{0xAB}, 8192), 0o644)

	to := filepath.Join(t.TempDir(), "modules")
	res, err := repo.Restore(t.Context(), data, to, repo.Options{})
	if err != nil || !res.Rebuilt || res.Imported != 4 || res.Verify == nil || !res.Verify.OK() {
		t.Fatalf("restore = %+v, %v", res, err)
	}
	if !strings.Contains(res.IndexNote, "rebuilt from the mirror") {
		t.Errorf("index note = %q", res.IndexNote)
	}
	restored, err := repo.Open(t.Context(), to, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if rec, err := restored.Resolve(t.Context(), index.MustQuery("math", "")); err != nil || rec.Version != "v0.3.0" {
		t.Fatalf("latest after restore = %+v, %v", rec, err)
	}
}

func TestIndexDeletedOrDamagedRefusesToOpenAndRebuilds(t *testing.T) {
	for _, damage := range []string{"deleted", "garbage"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			r, err := repo.Open(t.Context(), dir, repo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var recs []index.Record
			for i := range 3 {
				recs = append(recs, upload(t, r, "math", fmt.Sprintf("v1.%d.0", i), testutil.Wasm(fmt.Sprint(i), 400)))
			}
			r.Close()
			idx := filepath.Join(dir, repo.IndexFile)
			if damage == "deleted" {
				os.Remove(idx)
			} else {
				os.WriteFile(idx, []byte("this is not a bbolt file, but it is long enough to look at"), 0o644)
			}
			_, err = repo.Open(t.Context(), dir, repo.Options{})
			if !errors.Is(err, repo.ErrIndexUnusable) || !strings.Contains(err.Error(), "rebuild-index") {
				t.Fatalf("open with the index %s: %v; want ErrIndexUnusable with the way back", damage, err)
			}
			rep, err := repo.RebuildIndex(t.Context(), dir, repo.Options{})
			if err != nil || rep.Imported != 3 || rep.Verify == nil || !rep.Verify.OK() {
				t.Fatalf("rebuild = %+v, %v", rep, err)
			}
			r, err = repo.Open(t.Context(), dir, repo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, want := range recs {
				got, data, err := get(t, r, want.Name, want.Version)
				if err != nil || got.Digest != want.Digest || int64(len(data)) != want.Size {
					t.Errorf("%s@%s after rebuild: %+v %v", want.Name, want.Version, got, err)
				}
			}
		})
	}
}
