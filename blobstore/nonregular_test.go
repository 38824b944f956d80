package blobstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
)

// plant replaces blob d's file by a symlink, a folder or a FIFO.
func plant(t *testing.T, s *Store, d digest.Digest, kind string) {
	t.Helper()
	p, _ := s.Path(d)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	var err error
	switch kind {
	case "a symlink":
		err = os.Symlink("/dev/zero", p)
	case "a folder":
		err = os.Mkdir(p, 0o755)
	case "a FIFO":
		err = syscall.Mkfifo(p, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestNonRegularBlobs (issue 16, points 8 and 9): a symlink, a folder or a
// FIFO in place of a blob is refused at once by Open, Stat and Verify
// (ErrNotRegular, an errdefs.ErrCorrupt), listed by Irregulars, skipped by
// Walk, and replaced by a write of the blob's bytes, which is counted.
func TestNonRegularBlobs(t *testing.T) {
	for _, kind := range []string{"a symlink", "a folder", "a FIFO"} {
		t.Run(kind, func(t *testing.T) {
			s := newStore(t)
			b := randBytes(3000, 42)
			info := mustPut(t, s, b)
			plant(t, s, info.Digest, kind)

			start := time.Now()
			if _, err := s.Open(info.Digest); !errors.Is(err, ErrNotRegular) || !errors.Is(err, errdefs.ErrCorrupt) {
				t.Errorf("Open = %v, want ErrNotRegular", err)
			}
			if _, err := s.Stat(info.Digest); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Stat = %v, want ErrNotRegular", err)
			}
			if err := s.Verify(t.Context(), info.Digest); !errors.Is(err, ErrNotRegular) {
				t.Errorf("Verify = %v, want ErrNotRegular", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the refusals took %s", d)
			}
			irr, err := s.Irregulars(t.Context())
			want := "blobs/sha256/" + info.Digest.Encoded()
			if err != nil || len(irr) != 1 || irr[0].RelPath != want || irr[0].Kind != kind {
				t.Errorf("Irregulars = %+v, %v; want %s is %s", irr, err, want, kind)
			}
			n := 0
			s.Walk(t.Context(), func(Info) error { n++; return nil })
			if n != 0 {
				t.Errorf("Walk reported %d blobs", n)
			}

			if _, existed, err := s.Put(t.Context(), bytes.NewReader(b), info.Digest, 0); err != nil || existed {
				t.Fatalf("Put over %s: existed %v, %v", kind, existed, err)
			}
			if err := s.Verify(t.Context(), info.Digest); err != nil {
				t.Fatalf("after the repair: %v", err)
			}
			if s.Repaired() != 1 {
				t.Errorf("Repaired = %d, want 1", s.Repaired())
			}
			if irr, _ := s.Irregulars(t.Context()); len(irr) != 0 {
				t.Errorf("Irregulars after the repair = %+v", irr)
			}
		})
	}
}

// TestIrregularsSeesTheLayout: blobs/sha256 itself replaced by a symlink
// is reported, and so is a stray folder in blobs/.
func TestIrregularsSeesTheLayout(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "blobs", "stray"), 0o755); err != nil {
		t.Fatal(err)
	}
	irr, err := s.Irregulars(t.Context())
	if err != nil || len(irr) != 1 || irr[0].RelPath != "blobs/stray" {
		t.Fatalf("Irregulars = %+v, %v", irr, err)
	}
	other := t.TempDir()
	sha := filepath.Join(root, "blobs", "sha256")
	if err := os.Remove(sha); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, sha); err != nil {
		t.Fatal(err)
	}
	irr, err = s.Irregulars(t.Context())
	if err != nil || len(irr) != 1 || irr[0].RelPath != "blobs/sha256" {
		t.Fatalf("Irregulars with blobs/sha256 a symlink = %+v, %v", irr, err)
	}
}

// TestWalkFolderRefusesSymlinkedFolders: a copy whose blobs/sha256 is a
// symlink to elsewhere is not walked.
func TestWalkFolderRefusesSymlinkedFolders(t *testing.T) {
	src := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "blobs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(src, "blobs", "sha256")); err != nil {
		t.Fatal(err)
	}
	err := WalkFolder(t.Context(), src, func(Info, string) error { return nil })
	if !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("WalkFolder through a symlinked blobs/sha256 = %v, want ErrInvalid", err)
	}
	if err := WalkFolder(t.Context(), t.TempDir(), func(Info, string) error { return nil }); err != nil {
		t.Fatalf("WalkFolder of a folder without blobs = %v", err)
	}
}
