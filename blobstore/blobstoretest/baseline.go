// Package blobstoretest holds what benchmarks of GPMD's storage share: the
// baseline that the speed requirements of issue 2 are measured against.
package blobstoretest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Baseline is the least a durable content-addressed write does: read the
// bytes, SHA-256 them, write them to a temporary file, fsync, rename into
// place and fsync the directory, on one filesystem. No layout checks, no
// existence check, no chmod, no size limit, no index.
type Baseline struct {
	tmpDir, dstDir string
	buf            []byte
}

// NewBaseline prepares a baseline writing under root (which must exist).
func NewBaseline(root string) (*Baseline, error) {
	bl := &Baseline{tmpDir: filepath.Join(root, "tmp"), dstDir: filepath.Join(root, "dst"), buf: make([]byte, 1<<20)}
	for _, d := range []string{bl.tmpDir, bl.dstDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	return bl, nil
}

// Put stores data durably under its SHA-256. Not safe for concurrent
// use (it reuses one buffer); PutFile is.
func (bl *Baseline) Put(data []byte) error { return bl.put(bytes.NewReader(data), bl.buf) }

// PutFile stores the bytes of the file at path durably under their
// SHA-256, reading the file as it goes: the ingest of a file that
// bench/e2e's ingest process does, without the process. Safe for
// concurrent use.
func (bl *Baseline) PutFile(path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	return bl.put(src, make([]byte, len(bl.buf)))
}

func (bl *Baseline) put(r io.Reader, buf []byte) error {
	h := sha256.New()
	f, err := os.CreateTemp(bl.tmpDir, "t-*")
	if err != nil {
		return err
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			if _, err := f.Write(buf[:n]); err != nil {
				f.Close()
				return err
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(bl.dstDir, hex.EncodeToString(h.Sum(nil)))); err != nil {
		return err
	}
	d, err := os.Open(bl.dstDir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", bl.dstDir, err)
	}
	return nil
}
