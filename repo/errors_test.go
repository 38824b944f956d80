package repo_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// TestNotFoundIsOneClass: whichever layer finds nothing, the caller tests
// one class, errdefs.ErrNotFound.
func TestNotFoundIsOneClass(t *testing.T) {
	absent := digest.FromString("absent")

	bs, err := blobstore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, statErr := bs.Stat(absent)
	_, openErr := bs.Open(absent)

	db, err := index.Open(filepath.Join(t.TempDir(), repo.IndexFile), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, resolveErr := db.Resolve(index.MustQuery("math", ""))
	_, _, removeErr := db.Remove(index.MustRef("math", "1.0.0"))

	r, _ := openRepo(t, repo.Options{})
	_, repoResolveErr := r.Resolve(t.Context(), index.MustQuery("math", ""))
	_, _, repoGetErr := r.Get(t.Context(), index.MustQuery("math", "^1"))
	_, repoRemoveErr := r.Remove(t.Context(), index.MustRef("math", "v1.0.0"))

	for what, err := range map[string]error{
		"blobstore Stat": statErr, "blobstore Open": openErr, "blobstore Delete": bs.Delete(absent),
		"index Resolve": resolveErr, "index Remove": removeErr,
		"repo Resolve": repoResolveErr, "repo Get": repoGetErr, "repo Remove": repoRemoveErr,
	} {
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: %v, want errdefs.ErrNotFound", what, err)
		}
	}
}

// TestNarrowErrorsBelongToAClass: the errors callers must tell apart are
// each of one errdefs class, and a wrong claimed digest is corrupt input
// but not a corrupt store.
func TestNarrowErrorsBelongToAClass(t *testing.T) {
	for _, c := range []struct {
		err, class error
	}{
		{errdefs.ErrNotWasm, errdefs.ErrInvalid},
		{errdefs.ErrEmpty, errdefs.ErrInvalid},
		{errdefs.ErrNotEmpty, errdefs.ErrInvalid},
		{errdefs.ErrModuleCorrupt, errdefs.ErrCorrupt},
		{repo.ErrIndexUnusable, errdefs.ErrCorrupt},
		{index.ErrLocked, errdefs.ErrUnavailable},
		{index.ErrSchemaTooNew, errdefs.ErrUnavailable},
	} {
		if !errors.Is(c.err, c.class) {
			t.Errorf("%v is not of class %v", c.err, c.class)
		}
	}
	r, _ := openRepo(t, repo.Options{})
	_, err := r.Upload(t.Context(), index.MustRef("math", "v1.0.0"), bytes.NewReader(testutil.TinyWasm), digest.FromString("other"))
	if !errors.Is(err, errdefs.ErrCorrupt) || errors.Is(err, errdefs.ErrModuleCorrupt) {
		t.Errorf("upload with a wrong claimed digest: %v, want errdefs.ErrCorrupt and not errdefs.ErrModuleCorrupt", err)
	}
}
