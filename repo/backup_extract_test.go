package repo

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// backupStream writes a backup stream of blobs to pw, calling between
// after the first blob: the moment an attacker acts.
func backupStream(t *testing.T, pw *io.PipeWriter, blobs [][]byte, between func()) {
	tw := tar.NewWriter(pw)
	put := func(name string, data []byte, mode int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err := put(IndexFile, []byte("not read by ExtractBackup"), 0o600)
	for i, b := range blobs {
		if err != nil {
			break
		}
		name, _ := blobstore.RelPath(digest.FromBytes(b))
		err = put(name, b, 0o444)
		if i == 0 && err == nil {
			tw.Flush()
			between()
		}
	}
	if err == nil {
		err = put(modulesjson.FileName, []byte("{}\n"), 0o644)
	}
	if err == nil {
		err = tw.Close()
	}
	pw.CloseWithError(err)
}

// TestExtractBackupRefusesSwappedFolder (issue 16, point 4): blobs/sha256
// replaced by a symlink to a folder outside the target while the backup is
// written: the backup fails and writes nothing through the link. Before,
// every later blob landed in the link's target.
func TestExtractBackupRefusesSwappedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bk")
	outside := t.TempDir()
	blobs := [][]byte{testutil.Wasm("one", 256<<10), testutil.Wasm("two", 1024), testutil.Wasm("three", 1024)}
	pr, pw := io.Pipe()
	go backupStream(t, pw, blobs, func() {
		sha := filepath.Join(dir, "blobs", "sha256")
		if err := os.Rename(sha, sha+".moved"); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, sha); err != nil {
			t.Error(err)
		}
	})
	_, err := ExtractBackup(context.Background(), pr, dir)
	pr.CloseWithError(errors.New("test over"))
	if err == nil {
		t.Fatal("the backup succeeded through a swapped folder")
	}
	t.Logf("refused: %v", err)
	ents, _ := os.ReadDir(outside)
	for _, e := range ents {
		t.Errorf("written through the symlink: %s", filepath.Join(outside, e.Name()))
	}
}

// TestExtractBackupTarget: a target that exists must be an empty folder of
// the caller's user, not a symlink; it is made 0700.
func TestExtractBackupTarget(t *testing.T) {
	empty := func() io.Reader {
		pr, pw := io.Pipe()
		go backupStream(t, pw, [][]byte{testutil.TinyWasm}, func() {})
		return pr
	}
	foreign := filepath.Join(t.TempDir(), "foreign")
	os.Mkdir(foreign, 0o777)
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Skip("cannot chown (not root):", err)
	}
	if _, err := ExtractBackup(context.Background(), empty(), foreign); !errors.Is(err, ErrTargetNotOwned) {
		t.Errorf("foreign target: %v", err)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(t.TempDir(), link)
	if _, err := ExtractBackup(context.Background(), empty(), link); !errors.Is(err, ErrTargetNotOwned) {
		t.Errorf("symlink target: %v", err)
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if _, err := ExtractBackup(context.Background(), empty(), full); !errors.Is(err, errdefs.ErrNotEmpty) {
		t.Errorf("non-empty target: %v", err)
	}
	open := t.TempDir()
	os.Chmod(open, 0o777)
	if _, err := ExtractBackup(context.Background(), empty(), open); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(open)
	if fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		t.Errorf("target mode %04o", fi.Mode().Perm())
	}
}
