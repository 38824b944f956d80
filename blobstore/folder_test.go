package blobstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
)

func TestRelPath(t *testing.T) {
	d := digest.FromString("x")
	rel, err := RelPath(d)
	if err != nil || rel != "blobs/sha256/"+d.Encoded() {
		t.Fatalf("RelPath = %q, %v", rel, err)
	}
	if back, inBlobs, err := ParseRelPath(rel); back != d || !inBlobs || err != nil {
		t.Fatalf("ParseRelPath(%q) = %s, %v, %v", rel, back, inBlobs, err)
	}
	if _, err := RelPath("sha256:../../etc"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("RelPath of a bad digest: %v, want errdefs.ErrInvalid", err)
	}
	for _, bad := range []string{"blobs/sha256/xyz", "blobs/sha256/../" + d.Encoded(), "blobs/sha256/" + d.Encoded() + "/x"} {
		if _, inBlobs, err := ParseRelPath(bad); !inBlobs || !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseRelPath(%q) = %v, %v; want in blobs and errdefs.ErrInvalid", bad, inBlobs, err)
		}
	}
	if _, inBlobs, err := ParseRelPath("index.db"); inBlobs || err != nil {
		t.Errorf("ParseRelPath(index.db) = %v, %v", inBlobs, err)
	}
}

// TestFolderWithoutOpening: HoldsBlobs and WalkFolder read a store's
// folder without opening it, and RemoveStaleIngest keeps young files.
func TestFolderWithoutOpening(t *testing.T) {
	s := newStore(t)
	if HoldsBlobs(s.Root()) || HoldsBlobs(t.TempDir()) {
		t.Fatal("HoldsBlobs of an empty store or folder = true")
	}
	a, b := mustPut(t, s, randBytes(100, 1)), mustPut(t, s, randBytes(200, 2))
	if !HoldsBlobs(s.Root()) {
		t.Fatal("HoldsBlobs = false with two blobs")
	}
	var got []digest.Digest
	err := WalkFolder(t.Context(), s.Root(), func(info Info, path string) error {
		if fi, err := os.Stat(path); err != nil || fi.Size() != info.Size {
			t.Errorf("WalkFolder gave %s for %s: %v", path, info.Digest, err)
		}
		got = append(got, info.Digest)
		return nil
	})
	if want := sortedDigests(randBytes(100, 1), randBytes(200, 2)); err != nil || !slices.Equal(got, want) {
		t.Fatalf("WalkFolder = %v, %v; want %v (%s, %s)", got, err, want, a.Digest, b.Digest)
	}
	if err := WalkFolder(t.Context(), t.TempDir(), func(Info, string) error { return errors.New("called") }); err != nil {
		t.Fatalf("WalkFolder of a folder without blobs: %v", err)
	}

	young, old := filepath.Join(s.ingestDir, "young"), filepath.Join(s.ingestDir, "old")
	for _, p := range []string{young, old} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	if got := s.RemoveStaleIngest(time.Now().Add(-time.Minute), false); !slices.Equal(got, []string{old}) {
		t.Fatalf("RemoveStaleIngest = %v, want [%s]", got, old)
	}
	if err := os.Remove(young); err != nil { // the invariants want ingest/ empty
		t.Fatal(err)
	}
}
