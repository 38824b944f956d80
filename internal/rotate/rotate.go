// Package rotate is a log file that rotates itself by size: gpmd.log grows
// to MaxSize, then becomes gpmd.log.1 (gpmd.log.1 becomes gpmd.log.2, …,
// the oldest beyond Keep is removed) and a new gpmd.log begins.
//
// Guarantees: each Write lands whole in one file, in the order of the
// calls, so a writer that writes one line per call (log/slog's handlers
// do) never has a line split across two files or lost at a rotation. A
// rotation that fails (a rename refused) keeps the current file and goes
// on appending to it: the log grows past MaxSize rather than losing a line;
// the next Write past the limit tries again. Files are created with mode
// 0600. A Writer is safe for concurrent use.
//
// Caveats: a single Write larger than MaxSize is written whole, into a
// file of its own. Only the process that holds the data folder's lock may
// write the log: two Writers on one path would rotate under each other.
package rotate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"

	"github.com/ghost-network/gpmd/internal/fsutil"
)

// Mode of the log files: the log names modules, nodes and addresses, for
// the daemon's user only.
const Mode = fsutil.FileMode

// Options of a Writer.
type Options struct {
	// MaxSize is the size in bytes past which the file is rotated; it
	// must be positive.
	MaxSize int64
	// Keep is how many rotated files (path.1 … path.Keep) are kept; it
	// must be positive.
	Keep int
	// OnOpen, when not nil, is called with each file the Writer opens
	// (at Open and after each rotation), under the Writer's lock; the
	// daemon uses it to point its standard error at the current file.
	OnOpen func(*os.File)
}

// Writer appends to a size-rotated file.
type Writer struct {
	path string
	opt  Options

	// mu guards f and size, and serialises writes and rotations.
	mu   sync.Mutex
	f    *os.File // nil once closed
	size int64    // bytes in f
}

// Open opens (or creates) the file at path for appending.
func Open(path string, opt Options) (*Writer, error) {
	if opt.MaxSize <= 0 || opt.Keep <= 0 {
		return nil, fmt.Errorf("rotate %s: MaxSize (%d) and Keep (%d) must be positive", path, opt.MaxSize, opt.Keep)
	}
	w := &Writer{path: path, opt: opt}
	if err := w.openLocked(); err != nil {
		return nil, err
	}
	return w, nil
}

// openLocked opens path for appending and learns its size. w.mu is held
// (or w is not shared yet).
func (w *Writer) openLocked() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, Mode)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	// A file left by an older gpmd with a looser mode is tightened.
	if fi.Mode().Perm()&^Mode != 0 {
		f.Chmod(Mode)
	}
	w.f, w.size = f, fi.Size()
	if w.opt.OnOpen != nil {
		w.opt.OnOpen(f)
	}
	return nil
}

// Write appends p whole to the current file, rotating first when p would
// take the file past MaxSize.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, fs.ErrClosed
	}
	if w.size > 0 && w.size+int64(len(p)) > w.opt.MaxSize {
		// A failed rotation leaves w.f open on the current file: the
		// line goes there (see the package doc).
		w.rotateLocked()
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// rotateLocked shifts path.i to path.i+1 (dropping what passes Keep),
// path to path.1, and opens a new path. On a failure before the rename of
// path itself, the current file stays open and in use.
func (w *Writer) rotateLocked() error {
	name := func(i int) string { return w.path + "." + strconv.Itoa(i) }
	if err := os.Remove(name(w.opt.Keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := w.opt.Keep - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(w.path, name(1)); err != nil {
		return err
	}
	old := w.f
	if err := w.openLocked(); err != nil {
		// path is gone and cannot be recreated: go on in the renamed
		// file rather than lose lines.
		return err
	}
	old.Close()
	return nil
}

// Close closes the current file; later Writes fail with fs.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
