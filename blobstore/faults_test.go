package blobstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
)

// TestFaultsLeaveNothing makes each step of the commit sequence fail in
// turn, for a blob that stays in memory until Commit and for one that
// spills to its temporary file during the writes, and checks that the
// error comes back and nothing is left: no blob, no temporary file.
func TestFaultsLeaveNothing(t *testing.T) {
	errInjected := errors.New("injected fault")
	faults := []struct {
		name   string
		inject func(o *fileOps)
		want   error // what the returned error must wrap
		msg    string
	}{
		{"create temp", func(o *fileOps) {
			o.createTemp = func(string, string) (*os.File, error) {
				return nil, &fs.PathError{Op: "open", Path: "ingest/blob-1", Err: syscall.EACCES}
			}
		}, syscall.EACCES, "permission denied"},
		{"disk full", func(o *fileOps) {
			// A real full disk: part of the bytes go in, then ENOSPC.
			o.write = func(f *os.File, p []byte) (int, error) {
				n, _ := f.Write(p[:len(p)/2])
				return n, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
			}
		}, syscall.ENOSPC, "no space left on device"},
		{"chmod", func(o *fileOps) {
			o.chmod = func(*os.File, fs.FileMode) error { return errInjected }
		}, errInjected, "injected"},
		{"fsync", func(o *fileOps) {
			o.sync = func(*os.File) error { return &fs.PathError{Op: "sync", Path: "x", Err: syscall.EIO} }
		}, syscall.EIO, "fsync"},
		{"rename", func(o *fileOps) {
			o.rename = func(string, string) error { return errInjected }
		}, errInjected, "injected"},
	}
	for _, f := range faults {
		for _, n := range []int{100, 2*memLimit + 1} {
			t.Run(fmt.Sprintf("%s/%d", f.name, n), func(t *testing.T) {
				s := newStore(t)
				f.inject(&s.ops)
				b := randBytes(n, 77)
				_, _, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
				if !errors.Is(err, f.want) {
					t.Fatalf("Put: %v, want an error wrapping %v", err, f.want)
				}
				if !strings.Contains(err.Error(), f.msg) {
					t.Errorf("error %q does not say %q", err, f.msg)
				}
				if got := blobNames(t, s); len(got) != 0 {
					t.Errorf("blobs after the fault: %v", got)
				}
				if got := ingestNames(t, s); len(got) != 0 {
					t.Errorf("ingest after the fault: %v", got)
				}
				if _, err := s.Stat(digest.FromBytes(b)); !errors.Is(err, errdefs.ErrNotFound) {
					t.Errorf("Stat after the fault: %v, want errdefs.ErrNotFound", err)
				}

				// Once the fault is gone, the same bytes store fine.
				s.ops = osFileOps()
				if _, existed, err := s.Put(t.Context(), bytes.NewReader(b), "", 0); err != nil || existed {
					t.Fatalf("Put after the fault: existed %v, %v", existed, err)
				}
			})
		}
	}
}

// TestDirSyncFault: when only the last step, the directory fsync, fails,
// the error is reported; the blob may be visible but is whole, and no
// temporary file remains.
func TestDirSyncFault(t *testing.T) {
	s := newStore(t)
	s.ops.syncDir = func(string) error { return syscall.EIO }
	b := randBytes(5000, 78)
	_, _, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("Put with a failing directory fsync: %v", err)
	}
	if got := ingestNames(t, s); len(got) != 0 {
		t.Errorf("ingest after the fault: %v", got)
	}
	// checkInvariants (cleanup) proves whatever is in blobs/ is whole.
	if err := s.Delete(digest.FromBytes(b)); !errors.Is(err, syscall.EIO) {
		t.Errorf("Delete with a failing directory fsync: %v", err)
	}
}
