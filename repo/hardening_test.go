package repo_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// TestRemovedVersionsStayImmutable (issue 16, point 21): Remove keeps a
// tombstone, mirrored in ghost.modules.json; other bytes are refused with
// errdefs.ErrConflict, the same bytes come back; Forget breaks the rule on
// purpose; RebuildIndex keeps the tombstones and every version's created.
func TestRemovedVersionsStayImmutable(t *testing.T) {
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := testutil.Wasm("a", 500), testutil.Wasm("b", 500)
	upload(t, r, "m", "1.0.0", a)
	kept := upload(t, r, "m", "2.0.0", b)
	if _, err := r.Remove(t.Context(), index.MustRef("m", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Upload(t.Context(), index.MustRef("m", "1.0.0"), bytes.NewReader(b), ""); !errors.Is(err, errdefs.ErrConflict) || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("upload of other bytes under a removed version = %v, want ErrConflict", err)
	}
	upload(t, r, "m", "1.0.0", a)
	if _, err := r.Remove(t.Context(), index.MustRef("m", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if err := r.FlushMirror(t.Context()); err != nil {
		t.Fatal(err)
	}
	if gone := readMirror(t, dir)["m"].Removed["1.0.0"]; gone.Digest != digest.FromBytes(a).String() || gone.Removed == nil {
		t.Fatalf("mirror tombstone = %+v", gone)
	}
	r.Close()

	// Rebuild from the mirror: the tombstone and created come back.
	if err := os.Remove(filepath.Join(dir, repo.IndexFile)); err != nil {
		t.Fatal(err)
	}
	rep, err := repo.RebuildIndex(t.Context(), dir, repo.Options{})
	if err != nil || len(rep.Lost) != 0 || !rep.Verify.OK() {
		t.Fatalf("rebuild = %+v, %v", rep, err)
	}
	r, err = repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Resolve(t.Context(), index.MustQuery("m", "2.0.0"))
	if err != nil || !got.Created.Equal(kept.Created) {
		t.Errorf("created after rebuild = %v, %v; want %v", got.Created, err, kept.Created)
	}
	if ts, err := r.Tombstones(t.Context()); err != nil || len(ts) != 1 || ts[0].Version != "1.0.0" {
		t.Fatalf("tombstones after rebuild = %+v, %v", ts, err)
	}
	if _, err := r.Upload(t.Context(), index.MustRef("m", "1.0.0"), bytes.NewReader(b), ""); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("after rebuild, other bytes under the removed version = %v", err)
	}
	// Forget: the tombstone goes and any bytes may come.
	if _, err := r.RemoveWith(t.Context(), index.MustRef("m", "1.0.0"), repo.RemoveOptions{Forget: true}); err != nil {
		t.Fatal(err)
	}
	upload(t, r, "m", "1.0.0", b)
	if _, err := r.RemoveWith(t.Context(), index.MustRef("m", "1.0.0"), repo.RemoveOptions{Forget: true}); err != nil {
		t.Fatal(err)
	}
	if ts, _ := r.Tombstones(t.Context()); len(ts) != 0 {
		t.Fatalf("Forget kept a tombstone: %+v", ts)
	}
	if _, err := r.RemoveWith(t.Context(), index.MustRef("m", "1.0.0"), repo.RemoveOptions{Forget: true}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Forget of nothing = %v", err)
	}
}

// TestVerifyFindsNonRegularAndUnlinkedIndex (issue 16, point 8), and the
// repair of point 7 through Upload, counted.
func TestVerifyFindsNonRegularAndUnlinkedIndex(t *testing.T) {
	r, dir := openRepo(t, repo.Options{})
	data := testutil.Wasm("fifo", 800)
	rec := upload(t, r, "f", "1.0.0", data)
	p := filepath.Join(dir, "blobs", "sha256", rec.Digest.Encoded())
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get(t.Context(), index.MustQuery("f", "1.0.0")); !errors.Is(err, errdefs.ErrModuleCorrupt) {
		t.Fatalf("Get of a FIFO blob = %v, want errdefs.ErrModuleCorrupt", err)
	}
	v, err := r.Verify(t.Context())
	if err != nil || len(v.Problems) != 1 || v.Problems[0].Kind != repo.ProblemNotRegular || v.Problems[0].Digest != rec.Digest {
		t.Fatalf("verify = %+v, %v; want one not_regular", v.Problems, err)
	}
	upload(t, r, "f", "1.0.0", data)
	if c := r.Counters(); c.BlobsRepaired != 1 {
		t.Fatalf("Counters = %+v, want one repair", c)
	}
	if v, _ := r.Verify(t.Context()); !v.OK() {
		t.Fatalf("verify after the repair: %+v", v.Problems)
	}

	// The index file unlinked under the open repository.
	idx := filepath.Join(dir, repo.IndexFile)
	saved, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(idx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Upload(t.Context(), index.MustRef("g", "1.0.0"), bytes.NewReader(testutil.Wasm("g", 100)), ""); !errors.Is(err, index.ErrUnlinked) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("upload into an unlinked index = %v, want ErrUnlinked", err)
	}
	v, err = r.Verify(t.Context())
	found := false
	for _, p := range v.Problems {
		found = found || (p.Kind == repo.ProblemIndex && strings.Contains(p.Message, "removed"))
	}
	if err != nil || !found {
		t.Fatalf("verify with an unlinked index = %+v, %v", v.Problems, err)
	}
	// Put the file back for the invariants check at cleanup.
	if err := os.WriteFile(idx, saved, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreBoundsWhatItReads (issue 16, point 10): a blob over the module
// size limit is not copied (it is reported bad), and a FIFO or symlink
// named like a blob is neither read nor waited on.
func TestRestoreBoundsWhatItReads(t *testing.T) {
	src := t.TempDir()
	r, err := repo.Open(t.Context(), src, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	small := testutil.Wasm("small", 500)
	big := testutil.Wasm("big", 5000)
	upload(t, r, "small", "1.0.0", small)
	upload(t, r, "big", "1.0.0", big)
	r.Close()
	blobs := filepath.Join(src, "blobs", "sha256")
	if err := syscall.Mkfifo(filepath.Join(blobs, strings.Repeat("a", 64)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(blobs, strings.Repeat("b", 64))); err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "modules")
	rep, err := repo.Restore(t.Context(), src, to, repo.Options{MaxModuleSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blobs != 1 || len(rep.BadBlobs) != 1 || rep.BadBlobs[0].Digest != digest.FromBytes(big) {
		t.Fatalf("restore = %+v", rep)
	}
	if len(rep.Lost) != 1 || rep.Lost[0].Name != "big" || rep.Verify == nil || !rep.Verify.OK() {
		t.Fatalf("restore lost %+v, verify %+v", rep.Lost, rep.Verify)
	}
}
