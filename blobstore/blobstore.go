package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// Layout names, relative to the store's root.
const (
	blobsDirName  = "blobs"
	algDirName    = "sha256" // the only algorithm accepted
	ingestDirName = "ingest"

	// hexLen is the length of a SHA-256 digest in hex.
	hexLen = 64
)

// Buffer sizes. They are tuned by the benchmarks in bench_test.go.
const (
	// memLimit is how many bytes a Writer keeps in memory before it creates
	// its temporary file. A blob of at most this size that is already stored
	// costs a hash and nothing on disk. Beyond it the bytes go to the file
	// as they come, each chunk's writeback started at once (see
	// startWriteback), so the device writes while the rest is read and
	// hashed: keeping 1 MiB in memory and writing it at Commit cost a
	// 1 MiB upload about 0.3 ms of fsync that the overlap saves.
	memLimit = chunkSize
	// chunkSize is the unit of work of a write: each chunk is hashed and
	// written while still in the CPU cache, and the context is checked
	// between chunks.
	chunkSize = 256 << 10
)

// Info describes one committed blob.
type Info struct {
	Digest  digest.Digest
	Size    int64
	ModTime time.Time
}

// Store keeps blobs under <root>/blobs/sha256/<hex>; temporary files live
// under <root>/ingest/ on the same filesystem.
//
// A Store is safe for concurrent use by many goroutines: its only mutable
// state is an atomic counter (Repaired), and every change to blobs/ is one
// rename or one unlink.
type Store struct {
	root      string
	blobsDir  string // <root>/blobs/sha256
	ingestDir string // <root>/ingest

	log      *slog.Logger
	repaired atomic.Uint64 // damaged blobs replaced by a write of their bytes

	ops  fileOps   // the file system calls of the commit sequence (tests inject faults)
	bufs sync.Pool // *[]byte of chunkSize, for copying streams
	mems sync.Pool // *[]byte of memLimit, the in-memory start of a Writer
}

// Options for OpenWith.
type Options struct {
	// Logger receives a warning for every damaged blob a write repairs
	// (nil: discard).
	Logger *slog.Logger
}

// Open is OpenWith with no options.
func Open(root string) (*Store, error) { return OpenWith(root, Options{}) }

// OpenWith creates the layout under root if needed and removes leftovers
// of interrupted writes.
//
// Removing leftovers assumes no other process writes to the store at the
// same time (see Caveats in the package doc).
func OpenWith(root string, opts Options) (*Store, error) {
	root = filepath.Clean(root)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		root:      root,
		blobsDir:  filepath.Join(root, blobsDirName, algDirName),
		ingestDir: filepath.Join(root, ingestDirName),
		log:       opts.Logger,
		ops:       osFileOps(),
	}
	s.bufs.New = func() any { b := make([]byte, chunkSize); return &b }
	s.mems.New = func() any { b := make([]byte, 0, memLimit); return &b }

	if err := os.MkdirAll(s.blobsDir, fsutil.DirMode); err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", root, err)
	}
	if err := os.MkdirAll(s.ingestDir, fsutil.DirMode); err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", root, err)
	}
	if err := s.sweepIngest(); err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", root, err)
	}
	// Make the layout itself durable: a blob renamed into blobs/sha256 is
	// only as durable as the directory entries leading to it.
	for _, dir := range []string{root, filepath.Join(root, blobsDirName), s.blobsDir} {
		if err := s.ops.syncDir(dir); err != nil {
			return nil, fmt.Errorf("blobstore: open %s: %w", root, err)
		}
	}
	return s, nil
}

// sweepIngest removes everything in ingest/: only temporary files of writes
// that never committed can be there.
func (s *Store) sweepIngest() error {
	entries, err := os.ReadDir(s.ingestDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.ingestDir, e.Name())); err != nil {
			return fmt.Errorf("removing leftover: %w", err)
		}
	}
	return nil
}

// Repaired counts the damaged blobs (wrong bytes, wrong size, or not a
// regular file) that a write of their true bytes found since Open; each is
// replaced by that write, unless the write itself fails.
func (s *Store) Repaired() uint64 { return s.repaired.Load() }

// Root is the folder the store was opened on.
func (s *Store) Root() string { return s.root }

// Path returns the path of blob d after validating d (errdefs.ErrInvalid).
// The file may not exist.
func (s *Store) Path(d digest.Digest) (string, error) { return s.blobPath(d) }

// blobPath is the only place a path under blobs/ is made. It validates d
// first, so no digest, however crafted, names a file outside blobs/sha256.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	hex, err := validate(d)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.blobsDir, hex), nil
}

// validate accepts exactly "sha256:" followed by 64 lower-case hex digits
// and returns the hex part.
func validate(d digest.Digest) (string, error) {
	const prefix = algDirName + ":"
	s := string(d)
	if len(s) != len(prefix)+hexLen || s[:len(prefix)] != prefix || !isHex(s[len(prefix):]) {
		return "", fmt.Errorf("digest %q: %w: want sha256: and 64 lower-case hex digits", s, errdefs.ErrInvalid)
	}
	return s[len(prefix):], nil
}

// isHex reports whether name is 64 lower-case hex digits, the only file
// name that is a blob.
func isHex(name string) bool {
	if len(name) != hexLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Stat describes blob d (errdefs.ErrNotFound where absent, ErrNotRegular
// where something else than a regular file has its name).
func (s *Store) Stat(d digest.Digest) (Info, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return Info{}, notFound(d, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("blob %s: %w: %s", d, ErrNotRegular, fsutil.KindOf(fi.Mode()))
	}
	return Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes blob d (errdefs.ErrNotFound where absent). Committed blobs are
// read-only files; removing them needs only the directory to be writable.
// Readers that opened the blob before keep reading it.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(d, err)
	}
	// Without this, a crash could bring the blob back; harmless for a
	// content-addressed store, but a caller that deletes a corrupt blob wants
	// it gone.
	if err := s.ops.syncDir(s.blobsDir); err != nil {
		return fmt.Errorf("blob %s: deleted, but syncing %s: %w", d, s.blobsDir, err)
	}
	return nil
}

// Walk calls fn for every committed blob, in digest order. A non-nil error
// from fn stops the walk and is returned.
//
// Files in blobs/sha256 whose names are not digests, and anything that is not
// a regular file, are skipped: they are not blobs. A blob deleted during the
// walk may or may not be reported; one committed during the walk may not be.
// The walk stops with the context's error when ctx is done.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	return walkBlobsDir(ctx, s.blobsDir, false, func(info Info, _ string) error { return fn(info) })
}

// Verify re-hashes blob d: nil, or an error wrapping errdefs.ErrCorrupt or
// errdefs.ErrNotFound. It stops with the context's error when ctx is done.
func (s *Store) Verify(ctx context.Context, d digest.Digest) error {
	r, err := s.Open(d)
	if err != nil {
		return err
	}
	defer r.Close()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("blob %s: verify: %w", d, err)
		}
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ErrNotRegular: something else than a regular file (a symlink, folder,
// FIFO, device) stands where a blob should be. It is damage in the store,
// an errdefs.ErrCorrupt.
var ErrNotRegular = errdefs.Narrow("not a regular file", errdefs.ErrCorrupt)

// notRegular wraps fsutil's refusal (which names the kind found) in
// ErrNotRegular with the blob's digest.
func notRegular(d digest.Digest, err error) error {
	kind := "something else"
	var nr *fsutil.NotRegularError
	if errors.As(err, &nr) {
		kind = nr.Kind
	}
	return fmt.Errorf("blob %s: %w: %s", d, ErrNotRegular, kind)
}

// notFound turns a missing file into errdefs.ErrNotFound and adds the subject to any
// other error.
func notFound(d digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return fmt.Errorf("blob %s: %w", d, err)
}
