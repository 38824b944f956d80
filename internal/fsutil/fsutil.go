// Package fsutil holds the file operations that GPMD's durability rests on,
// once: replacing a file atomically and making a folder's entries durable.
//
// Guarantees: WriteFileAtomic leaves at path either the old file or the new
// one, whole, never a mix, and once it returns nil the new file survives a
// power cut (the data and the rename are both synced). A crash can leave a
// temporary file named "." + base + ".*.tmp" beside path; callers that care
// sweep them (blobstore does for ingest/).
package fsutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with the bytes of r, created with mode perm:
// temporary file in the same folder, copy, fsync, close, chmod, rename,
// fsync of the folder.
func WriteFileAtomic(path string, r io.Reader, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return SyncDir(dir)
}

// WriteFileAtomicBytes is WriteFileAtomic for bytes in memory.
func WriteFileAtomicBytes(path string, data []byte, perm os.FileMode) error {
	return WriteFileAtomic(path, bytes.NewReader(data), perm)
}

// SyncDir makes the entries of dir (a rename into it, an unlink) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
