package control

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// newOpsFixture is newFixture with the operations endpoints.
func newOpsFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	r, err := repo.Open(t.Context(), dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	s := NewServer(Config{
		Modules: r,
		Ops:     r,
		Info:    api.Info{PID: 42, Version: "test", Started: time.Now(), DataDir: dir},
	})
	srv := httptest.NewServer(s)
	f := &fixture{repo: r, srv: srv, client: client.NewClient(srv.Listener.Addr().String(), ""), logs: logs}
	t.Cleanup(func() {
		f.client.Close()
		srv.Close()
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return f
}

func TestVerifyGCBackup(t *testing.T) {
	f := newOpsFixture(t)
	ctx := t.Context()
	a, b, other := testutil.Wasm("a", 3000), testutil.Wasm("b", 5000), testutil.Wasm("other", 4000)
	for name, data := range map[string][]byte{"a": a, "b": b} {
		if _, err := f.client.Upload(ctx, name, "1.0.0", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := f.client.Verify(ctx)
	if err != nil || !rep.OK() || rep.Versions != 2 || rep.Blobs != 2 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	// A conflicting upload leaves its blob behind: garbage, not a problem.
	if _, err := f.client.Upload(ctx, "a", "1.0.0", bytes.NewReader(other), int64(len(other))); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("conflicting upload: %v", err)
	}
	orphan := filepath.Join(f.repo.Dir(), "blobs", "sha256", digest.FromBytes(other).Encoded())
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("the conflicting upload left no orphan to collect: %v", err)
	}
	rep, err = f.client.Verify(ctx)
	if err != nil || !rep.OK() || len(rep.Garbage) != 1 || rep.Garbage[0].Digest != api.Digest(digest.FromBytes(other)) {
		t.Fatalf("verify with an orphan: %+v %v", rep, err)
	}
	gc, err := f.client.GC(ctx, true)
	if err != nil || !gc.DryRun || len(gc.Removed) != 1 {
		t.Fatalf("gc dry run: %+v %v", gc, err)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("a dry run removed the orphan: %v", err)
	}
	gc, err = f.client.GC(ctx, false)
	if err != nil || gc.DryRun || len(gc.Removed) != 1 || gc.Bytes != int64(len(other)) {
		t.Fatalf("gc: %+v %v", gc, err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Fatalf("gc left the orphan: %v", err)
	}

	dst := filepath.Join(t.TempDir(), "backup")
	var brep repo.BackupReport
	err = f.client.Backup(ctx, func(r io.Reader) error {
		var err error
		brep, err = repo.ExtractBackup(ctx, r, dst)
		return err
	})
	if err != nil || brep.Versions != 2 || brep.Blobs != 2 || brep.Bytes != int64(len(a)+len(b)) {
		t.Fatalf("backup: %+v %v", brep, err)
	}
	rrep, err := repo.Restore(ctx, dst, filepath.Join(t.TempDir(), "restored"), repo.Options{})
	if err != nil || rrep.Verify == nil || !rrep.Verify.OK() || rrep.Verify.Versions != 2 {
		t.Fatalf("restore of the backup: %+v %v", rrep, err)
	}

	// A corrupt blob fails verify by name, and cuts a backup short.
	p := filepath.Join(f.repo.Dir(), "blobs", "sha256", digest.FromBytes(b).Encoded())
	os.Chmod(p, 0o600)
	if err := os.WriteFile(p, append([]byte{}, a[:len(b)%len(a)]...), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = f.client.Verify(ctx)
	if err != nil || rep.OK() || rep.Problems[0].Name != "b" {
		t.Fatalf("verify of a corrupt blob: %+v %v", rep, err)
	}
	err = f.client.Backup(ctx, func(r io.Reader) error {
		_, err := repo.ExtractBackup(ctx, r, filepath.Join(t.TempDir(), "backup2"))
		return err
	})
	if err == nil {
		t.Fatal("a backup of a store with a corrupt blob succeeded")
	}
}

func TestGCBadDryRun(t *testing.T) {
	f := newOpsFixture(t)
	resp, err := http.Post(f.srv.URL+"/v1/gc?dry_run=maybe", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("dry_run=maybe: %d", resp.StatusCode)
	}
}

func TestNoOpsNoEndpoints(t *testing.T) {
	f := newFixture(t, 0, "")
	if _, err := f.client.Verify(t.Context()); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("verify on a server without Ops: %v", err)
	}
}

func TestUploadDigest(t *testing.T) {
	f := newOpsFixture(t)
	mod := testutil.Wasm("m", 2000)
	wrong := api.Digest(digest.FromBytes(testutil.Wasm("x", 2000)))
	if _, err := f.client.UploadDigest(t.Context(), "m", "1.0.0", bytes.NewReader(mod), -1, wrong); !errors.Is(err, errdefs.ErrCorrupt) {
		t.Fatalf("upload with the wrong expected digest: %v", err)
	}
	if _, err := f.client.Resolve(t.Context(), "m", "1.0.0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a refused upload was stored: %v", err)
	}
	rec, err := f.client.UploadDigest(t.Context(), "m", "1.0.0", bytes.NewReader(mod), -1, api.Digest(digest.FromBytes(mod)))
	if err != nil || rec.Digest != api.Digest(digest.FromBytes(mod)) {
		t.Fatalf("upload with the right digest: %+v %v", rec, err)
	}
}
