package blobstore

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// Reader reads one blob and verifies it: where the bytes read do not match
// the digest, the read that reaches the end returns an error wrapping
// errdefs.ErrCorrupt instead of io.EOF.
//
// Bytes returned before the end are not verified yet: a caller that must not
// act on bad bytes reads to the end before using them. A Reader is not safe
// for concurrent use; the caller closes it.
type Reader struct {
	f    *os.File
	d    digest.Digest
	h    hash.Hash
	size int64
	err  error // sticky: io.EOF once verified, or the error that ended the read
}

// Read reads from the blob, hashing what it returns.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.f.Read(p)
	r.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if got := digest.NewDigest(digest.SHA256, r.h); got != r.d {
			r.err = fmt.Errorf("blob %s: stored bytes hash to %s: %w", r.d, got, errdefs.ErrCorrupt)
		} else {
			r.err = io.EOF
		}
		return n, r.err
	case err != nil:
		r.err = fmt.Errorf("blob %s: %w", r.d, err)
		return n, r.err
	}
	return n, nil
}

// Close closes the file. It does not verify anything.
func (r *Reader) Close() error { return r.f.Close() }

// Size is the size of the file on disk.
func (r *Reader) Size() int64 { return r.size }

// Digest is the digest the bytes are checked against.
func (r *Reader) Digest() digest.Digest { return r.d }

// Open opens blob d for a verifying read (errdefs.ErrNotFound where absent;
// ErrNotRegular, an errdefs.ErrCorrupt, where something else than a regular
// file stands in its place). It never blocks on a FIFO or device and never
// follows a symlink. The caller closes the Reader. A blob deleted while
// open stays readable.
func (s *Store) Open(d digest.Digest) (*Reader, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, err
	}
	// Non-blocking and no-follow: a FIFO, device or symlink planted in
	// place of a blob is refused at once instead of pinning a thread in
	// open(2) or reading another file.
	f, fi, err := fsutil.OpenRegular(p)
	if errors.Is(err, fsutil.ErrNotRegular) {
		return nil, notRegular(d, err)
	}
	if err != nil {
		return nil, notFound(d, err)
	}
	return &Reader{f: f, d: d, h: sha256.New(), size: fi.Size()}, nil
}
