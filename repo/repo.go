package repo

// API SKELETON — bodies to come; the exported names and signatures below are
// relied on by gmp/ and cmd/.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// DefaultMaxModuleSize is the largest module Upload takes by default.
const DefaultMaxModuleSize = 256 << 20

// Error classes. Errors from Repo wrap one of these (or the index and
// blobstore classes re-exported here), tested with errors.Is.
var (
	ErrNotFound       = index.ErrNotFound
	ErrInvalid        = index.ErrInvalid
	ErrConflict       = index.ErrConflict
	ErrLocked         = index.ErrLocked
	ErrTooLarge       = blobstore.ErrTooLarge
	ErrDigestMismatch = blobstore.ErrDigestMismatch
	// ErrNotWasm: the bytes are not a WebAssembly binary (the message says
	// what they look like instead). It wraps ErrInvalid too.
	ErrNotWasm = errors.New("not a WebAssembly module")
	// ErrEmpty: no bytes at all. It wraps ErrInvalid too.
	ErrEmpty = errors.New("empty module")
	// ErrCorrupt: an indexed blob is missing or its bytes do not match.
	ErrCorrupt = errors.New("stored module is corrupt")
)

// Options for Open.
type Options struct {
	MaxModuleSize int64         // 0: DefaultMaxModuleSize
	MirrorDelay   time.Duration // how long mirror writes are coalesced; 0: default
	LockTimeout   time.Duration // 0: index default
	Logger        *slog.Logger  // nil: discard
}

// Repo is the module repository in one folder (<data>/modules).
type Repo struct{}

// Open opens or creates the repository in dir.
func Open(ctx context.Context, dir string, opts Options) (*Repo, error) { panic("unimplemented") }

// Close flushes the mirror and closes the index.
func (r *Repo) Close() error { panic("unimplemented") }

// Dir is the repository folder.
func (r *Repo) Dir() string { panic("unimplemented") }

// Upload stores a module version. expected, when not empty, is the digest
// the caller claims for the bytes.
func (r *Repo) Upload(ctx context.Context, name, version string, body io.Reader, expected digest.Digest) (index.Record, error) {
	panic("unimplemented")
}

// Resolve finds a version (see index.DB.Resolve).
func (r *Repo) Resolve(ctx context.Context, name, query string) (index.Record, error) {
	panic("unimplemented")
}

// Get resolves and opens the module's bytes for a verifying read: reading
// to the end fails with an error wrapping ErrDigestMismatch where the bytes
// are wrong. The caller closes the reader. rec.Size is the size to expect.
func (r *Repo) Get(ctx context.Context, name, query string) (index.Record, io.ReadCloser, error) {
	panic("unimplemented")
}

// List lists modules (name "" for all).
func (r *Repo) List(ctx context.Context, name string) ([]index.Module, error) {
	panic("unimplemented")
}

// Remove deletes one exact version; its blob goes when no version names it.
func (r *Repo) Remove(ctx context.Context, name, version string) (index.Record, error) {
	panic("unimplemented")
}

// Stats counts what the repository holds.
func (r *Repo) Stats(ctx context.Context) (index.Stats, error) { panic("unimplemented") }

// FlushMirror writes ghost.modules.json now if it is behind the index.
func (r *Repo) FlushMirror(ctx context.Context) error { panic("unimplemented") }
