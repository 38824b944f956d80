package blobstore

// API SKELETON — the helper that owns blobstore/ replaces the bodies; the
// exported names and signatures below are relied on by repo/ and gmp/.

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Error classes. Every error the store returns that belongs to one of these
// classes wraps it, so callers test with errors.Is.
var (
	// ErrNotFound: no blob with that digest.
	ErrNotFound = errors.New("blob not found")
	// ErrDigestMismatch: bytes do not hash to the digest they were stored or
	// expected under (a corrupt blob on read, or a wrong expected digest on write).
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrTooLarge: a write went past its size limit.
	ErrTooLarge = errors.New("blob too large")
	// ErrInvalidDigest: a digest that is not sha256:<64 lower-case hex>.
	ErrInvalidDigest = errors.New("invalid digest")
)

// Info describes one committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Store keeps blobs under <root>/blobs/sha256/<hex>; temporary files live
// under <root>/ingest/ on the same filesystem.
type Store struct{}

// Open creates the layout under root if needed and removes leftovers of
// interrupted writes.
func Open(root string) (*Store, error) { panic("unimplemented") }

// Root is the folder the store was opened on.
func (s *Store) Root() string { panic("unimplemented") }

// Path returns the path of blob d after validating d (ErrInvalidDigest).
// The file may not exist.
func (s *Store) Path(d digest.Digest) (string, error) { panic("unimplemented") }

// Writer streams one blob into the store: it hashes while writing, and
// Commit makes the blob visible atomically. Close without Commit aborts and
// removes the temporary data. Close after Commit is a no-op. Not safe for
// concurrent use.
type Writer struct{}

// NewWriter starts a blob. maxSize <= 0 means no limit; a Write past maxSize
// fails with ErrTooLarge.
func (s *Store) NewWriter(ctx context.Context, maxSize int64) (*Writer, error) {
	panic("unimplemented")
}

func (w *Writer) Write(p []byte) (int, error) { panic("unimplemented") }

// Digest is the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { panic("unimplemented") }

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { panic("unimplemented") }

// Commit makes the blob durable and visible. expected, when not empty, must
// equal the digest of what was written, else ErrDigestMismatch and nothing is
// stored. existed reports that the bytes were already stored (then nothing
// was written to blobs/).
func (w *Writer) Commit(ctx context.Context, expected digest.Digest) (info Info, existed bool, err error) {
	panic("unimplemented")
}

// Close aborts an uncommitted write.
func (w *Writer) Close() error { panic("unimplemented") }

// Put is NewWriter + io.Copy + Commit.
func (s *Store) Put(ctx context.Context, r io.Reader, expected digest.Digest, maxSize int64) (info Info, existed bool, err error) {
	panic("unimplemented")
}

// Reader reads one blob and verifies it: where the bytes read do not match
// the digest, the read that reaches the end returns an error wrapping
// ErrDigestMismatch instead of io.EOF.
type Reader struct{}

func (r *Reader) Read(p []byte) (int, error) { panic("unimplemented") }
func (r *Reader) Close() error               { panic("unimplemented") }

// Size is the size of the file on disk.
func (r *Reader) Size() int64 { panic("unimplemented") }

// Open opens blob d for a verifying read (ErrNotFound where absent).
func (s *Store) Open(d digest.Digest) (*Reader, error) { panic("unimplemented") }

// Stat describes blob d (ErrNotFound where absent).
func (s *Store) Stat(d digest.Digest) (Info, error) { panic("unimplemented") }

// Delete removes blob d (ErrNotFound where absent).
func (s *Store) Delete(d digest.Digest) error { panic("unimplemented") }

// Walk calls fn for every committed blob, in digest order. A non-nil error
// from fn stops the walk and is returned.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error { panic("unimplemented") }

// Verify re-hashes blob d: nil, or an error wrapping ErrDigestMismatch or ErrNotFound.
func (s *Store) Verify(ctx context.Context, d digest.Digest) error { panic("unimplemented") }
