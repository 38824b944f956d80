package blobstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// blobMode is the mode of every committed blob: nobody writes to a blob
// after it is committed, not even the store; only its owner reads it.
const blobMode = fsutil.BlobMode

// errWriterDone: Write or Commit after Commit or Close.
var errWriterDone = errors.New("blobstore: writer already committed or closed")

// Writer streams one blob into the store: it hashes while writing, and
// Commit makes the blob visible atomically. Close without Commit aborts and
// removes the temporary data. Close after Commit is a no-op. Not safe for
// concurrent use.
//
// The first memLimit (256 KiB) bytes are kept in memory; the temporary file
// in ingest/ is created only when the data outgrows that, or at Commit when
// the blob is not stored yet. So a small blob that already exists never
// touches the disk. Past that, every chunk is written as it comes and its
// writeback started (startWriteback), before it is hashed.
//
// After any failed Write the writer is aborted (its temporary file removed)
// and every later Write or Commit returns the same error.
type Writer struct {
	s       *Store
	ctx     context.Context // from NewWriter: checked between chunks of a Write
	maxSize int64

	h    hash.Hash
	size int64
	mem  []byte  // the bytes so far, while they fit in memLimit and f is nil
	memp *[]byte // where mem came from, to give it back to the store's pool

	f       *os.File // the temporary file, once created
	tmpPath string   // its path, while it exists
	fileLen int64    // bytes written to f so far

	err       error // sticky: the first failure (the writer is aborted)
	done      bool  // Commit ran (whatever its outcome) or Close ran
	committed bool
}

// NewWriter starts a blob. maxSize <= 0 means no limit; a Write past maxSize
// fails with errdefs.ErrTooLarge. Writes fail with ctx's error once ctx is done.
// The caller must call Close (after Commit or to abort).
func (s *Store) NewWriter(ctx context.Context, maxSize int64) (*Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob write: %w", err)
	}
	return &Writer{s: s, ctx: ctx, maxSize: maxSize, h: sha256.New()}, nil
}

// Write hashes p and stores it: in memory while the blob is small, in the
// temporary file beyond that. It works in chunks of chunkSize and checks the
// context between them.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterDone
	}
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if err := w.ctx.Err(); err != nil {
			return written, w.fail(fmt.Errorf("blob write: %w", err))
		}
		chunk := p[:min(len(p), chunkSize)]
		if w.maxSize > 0 && w.size+int64(len(chunk)) > w.maxSize {
			return written, w.fail(fmt.Errorf("blob write: more than %d bytes: %w", w.maxSize, errdefs.ErrTooLarge))
		}
		if err := w.store(chunk); err != nil {
			return written, w.fail(err)
		}
		w.h.Write(chunk) // hash.Hash.Write never fails
		w.size += int64(len(chunk))
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

// ReadFrom reads r to its end into the blob; io.Copy uses it. While the
// blob fits in memory it reads straight into the in-memory buffer, which
// saves a copy of every byte. Errors, limits and the context are as for
// Write; a read error from r aborts the writer too.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.done {
		return 0, errWriterDone
	}
	if w.err != nil {
		return 0, w.err
	}
	var total int64
	for w.f == nil {
		if err := w.ctx.Err(); err != nil {
			return total, w.fail(fmt.Errorf("blob write: %w", err))
		}
		w.getMem()
		if len(w.mem) == memLimit {
			break // full: the next bytes, if any, go to the temporary file
		}
		room := w.mem[len(w.mem):min(memLimit, len(w.mem)+chunkSize)]
		n, rerr := r.Read(room)
		if n > 0 {
			if w.maxSize > 0 && w.size+int64(n) > w.maxSize {
				return total, w.fail(fmt.Errorf("blob write: more than %d bytes: %w", w.maxSize, errdefs.ErrTooLarge))
			}
			w.h.Write(room[:n])
			w.mem = w.mem[:len(w.mem)+n]
			w.size += int64(n)
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, w.fail(fmt.Errorf("blob write: reading input: %w", rerr))
		}
	}

	bp := w.s.bufs.Get().(*[]byte)
	defer w.s.bufs.Put(bp)
	buf := *bp
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, w.fail(fmt.Errorf("blob write: reading input: %w", rerr))
		}
	}
}

// store keeps chunk in memory or, once the blob outgrows memLimit, in the
// temporary file.
func (w *Writer) store(chunk []byte) error {
	if w.f == nil && len(w.mem)+len(chunk) <= memLimit {
		w.getMem()
		w.mem = append(w.mem, chunk...) // within cap: never reallocates
		return nil
	}
	if w.f == nil {
		if err := w.spill(); err != nil {
			return err
		}
	}
	return w.writeFile(chunk)
}

// spill creates the temporary file and moves the in-memory bytes into it.
func (w *Writer) spill() error {
	f, err := w.s.ops.createTemp(w.s.ingestDir, "blob-*")
	if err != nil {
		return fmt.Errorf("blob write: creating temporary file: %w", err)
	}
	w.f, w.tmpPath = f, f.Name()
	err = w.writeFile(w.mem)
	w.putMem()
	return err
}

// getMem takes a memLimit buffer from the store's pool if w has none: a
// fresh buffer per blob would cost more in allocation, zeroing and page
// faults than the hash.
func (w *Writer) getMem() {
	if w.memp == nil {
		w.memp = w.s.mems.Get().(*[]byte)
		w.mem = (*w.memp)[:0]
	}
}

// putMem gives the buffer back; w.mem must not be used after.
func (w *Writer) putMem() {
	if w.memp != nil {
		w.s.mems.Put(w.memp)
	}
	w.mem, w.memp = nil, nil
}

func (w *Writer) writeFile(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	n, err := w.s.ops.write(w.f, p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err == nil {
		startWriteback(w.f, w.fileLen, int64(n))
		w.fileLen += int64(n)
	}
	if err != nil {
		// err names the file already (*fs.PathError); a full disk shows as
		// "no space left on device" and wraps syscall.ENOSPC.
		return fmt.Errorf("blob write: %w", err)
	}
	return nil
}

// fail records err, aborts the writer and returns err.
func (w *Writer) fail(err error) error {
	w.err = err
	w.abort()
	return err
}

// abort drops the in-memory bytes and removes the temporary file.
func (w *Writer) abort() error {
	w.putMem()
	var err error
	if w.f != nil {
		w.f.Close() // the file is removed anyway; its close error tells nothing
		w.f = nil
	}
	if w.tmpPath != "" {
		if rerr := os.Remove(w.tmpPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("blob write: removing temporary file: %w", rerr)
		}
		w.tmpPath = ""
	}
	return err
}

// Digest is the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.h) }

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit makes the blob durable and visible. expected, when not empty, must
// equal the digest of what was written, else errdefs.ErrCorrupt and nothing is
// stored. existed reports that the bytes were already stored (then nothing
// was written to blobs/).
//
// The sequence: the temporary file is made read-only, fsynced, closed and its
// size checked, then renamed to blobs/sha256/<hex> and the directory fsynced.
// The blob becomes visible at the rename, complete and read-only. On any
// error before the rename nothing is left behind (no blob, no temporary file).
// If only the final directory fsync fails, the error is returned and the blob
// may stay visible: it is complete and correct, but its durability is
// unknown, so the caller must not count the write as done.
//
// ctx is checked up to the rename; after it the commit cannot be undone.
// Commit may be called once; Close is still to be called after it.
func (w *Writer) Commit(ctx context.Context, expected digest.Digest) (info Info, existed bool, err error) {
	if w.done {
		return Info{}, false, errWriterDone
	}
	w.done = true
	if w.err != nil {
		return Info{}, false, w.err
	}
	defer func() {
		if err != nil {
			w.fail(err)
		}
	}()

	if err := ctx.Err(); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	if expected != "" {
		if _, err := validate(expected); err != nil {
			return Info{}, false, fmt.Errorf("blob commit: expected %w", err)
		}
	}
	d := w.Digest()
	if expected != "" && d != expected {
		return Info{}, false, fmt.Errorf("blob commit: bytes hash to %s, expected %s: %w", d, expected, errdefs.ErrCorrupt)
	}
	target, err := w.s.blobPath(d)
	if err != nil {
		return Info{}, false, err // cannot happen: d is a sha256 we computed
	}

	// Already stored: drop what we have, once the stored copy is checked
	// (hashed), so that an acknowledged write is always readable. A stored
	// copy that is damaged (other bytes, other size, not a regular file) is
	// replaced below by the bytes just written, atomically.
	stored, err := w.s.checkStored(ctx, d, w.size, true)
	if err != nil {
		return Info{}, false, err
	}
	if stored != nil {
		if err := w.abort(); err != nil {
			return Info{}, false, err
		}
		w.committed = true
		return *stored, true, nil
	}

	if w.f == nil {
		if err := w.spill(); err != nil {
			return Info{}, false, err
		}
	}
	// Read-only before the fsync, so the mode is as durable as the bytes and
	// the blob is read-only from the instant it appears under blobs/.
	if err := w.s.ops.chmod(w.f, blobMode); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	if err := w.s.ops.sync(w.f); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: fsync: %w", err)
	}
	fi, err := w.f.Stat()
	if err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	if fi.Size() != w.size {
		return Info{}, false, fmt.Errorf("blob commit: temporary file has %d bytes, wrote %d", fi.Size(), w.size)
	}
	f := w.f
	w.f = nil
	if err := f.Close(); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	// A rename cannot replace a folder: an empty one planted under a
	// blob's name goes first (a non-empty one stays, and the commit
	// fails; verify reports it).
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		os.Remove(target)
	}
	// Two writers of the same bytes may both get here: the second rename
	// replaces the first file by an identical one, atomically, and both
	// succeed.
	if err := w.s.ops.rename(w.tmpPath, target); err != nil {
		return Info{}, false, fmt.Errorf("blob commit: %w", err)
	}
	w.tmpPath = ""
	w.committed = true
	if err := w.s.ops.syncDir(w.s.blobsDir); err != nil {
		return Info{}, false, fmt.Errorf("blob %s: committed, but syncing %s: %w", d, w.s.blobsDir, err)
	}
	return Info{Digest: d, Size: w.size, ModTime: fi.ModTime()}, false, nil
}

// Close aborts an uncommitted write and removes its temporary data. After
// Commit it is a no-op; it may be called more than once.
func (w *Writer) Close() error {
	if w.done && (w.committed || w.err != nil) {
		return nil
	}
	w.done = true
	if w.err == nil {
		w.err = errWriterDone
	}
	return w.abort()
}

// Put is NewWriter + io.Copy + Commit.
//
// When expected is given and that blob is already stored, Put only hashes r
// to check it and writes nothing. Put reads r to its end (or to maxSize+1
// bytes); it does not close r.
func (s *Store) Put(ctx context.Context, r io.Reader, expected digest.Digest, maxSize int64) (info Info, existed bool, err error) {
	if expected != "" {
		if _, err := validate(expected); err != nil {
			return Info{}, false, fmt.Errorf("blob put: expected %w", err)
		}
		// A sound stored copy: only hash the input to check it. A missing
		// or damaged one: write the input, and Commit replaces the damage.
		// Commit counts the damage, so this look does not.
		stored, err := s.checkStored(ctx, expected, -1, false)
		if err != nil {
			return Info{}, false, err
		}
		if stored != nil {
			return s.check(ctx, r, *stored, maxSize)
		}
	}

	w, err := s.NewWriter(ctx, maxSize)
	if err != nil {
		return Info{}, false, err
	}
	defer w.Close()
	if _, err := w.ReadFrom(r); err != nil {
		return Info{}, false, err
	}
	return w.Commit(ctx, expected)
}

// checkStored looks at the stored copy of d: its Info when it is a regular
// file of size bytes (any size when size < 0) whose bytes hash to d; nil
// when there is none or it is damaged, so the caller writes it (again). A
// damaged copy is logged and counted here when note is set (the caller
// goes on to replace it); other errors (a context ended, an unreadable
// folder) are returned.
func (s *Store) checkStored(ctx context.Context, d digest.Digest, size int64, note bool) (*Info, error) {
	noteDamage := func(why string) {
		if note {
			s.noteDamage(d, why)
		}
	}
	info, err := s.Stat(d)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return nil, nil
	case errors.Is(err, ErrNotRegular):
		noteDamage(err.Error())
		return nil, nil
	case err != nil:
		return nil, err
	case size >= 0 && info.Size != size:
		noteDamage(fmt.Sprintf("stored copy holds %d bytes, the digest's bytes are %d", info.Size, size))
		return nil, nil
	}
	switch err := s.Verify(ctx, d); {
	case err == nil:
		return &info, nil
	case errors.Is(err, errdefs.ErrNotFound):
		return nil, nil // deleted meanwhile: write it
	case errors.Is(err, errdefs.ErrCorrupt):
		noteDamage(err.Error())
		return nil, nil
	default:
		return nil, err
	}
}

// noteDamage logs and counts a damaged blob that a write is about to
// replace.
func (s *Store) noteDamage(d digest.Digest, why string) {
	s.repaired.Add(1)
	s.log.Warn("damaged blob replaced by the bytes of a new write", "digest", d, "damage", why)
}

// check hashes r against a blob that is already stored, writing nothing.
func (s *Store) check(ctx context.Context, r io.Reader, stored Info, maxSize int64) (Info, bool, error) {
	h := sha256.New()
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return Info{}, false, fmt.Errorf("blob put: %w", err)
		}
		n, rerr := r.Read(buf)
		size += int64(n)
		if maxSize > 0 && size > maxSize {
			return Info{}, false, fmt.Errorf("blob put: more than %d bytes: %w", maxSize, errdefs.ErrTooLarge)
		}
		h.Write(buf[:n])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Info{}, false, fmt.Errorf("blob put: reading input: %w", rerr)
		}
	}
	if d := digest.NewDigest(digest.SHA256, h); d != stored.Digest {
		return Info{}, false, fmt.Errorf("blob put: bytes hash to %s, expected %s: %w", d, stored.Digest, errdefs.ErrCorrupt)
	}
	if size != stored.Size {
		// The input is right and the stored copy is not: it cannot be
		// repaired from here because the input is consumed.
		return Info{}, false, fmt.Errorf("blob %s: stored copy is corrupt (%d bytes, the input has %d): %w", stored.Digest, stored.Size, size, errdefs.ErrCorrupt)
	}
	return stored, true, nil
}
