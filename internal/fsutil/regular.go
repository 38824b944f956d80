package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular: the path names a symlink, folder, FIFO, socket or device
// where a regular file was expected. Callers wrap it in their error class.
var ErrNotRegular = errors.New("not a regular file")

// NotRegularError says what stands at Path instead of a regular file. It
// wraps ErrNotRegular.
type NotRegularError struct {
	Path string
	Kind string // KindOf's words: "a symlink", "a FIFO", ...
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: %s, not a regular file", e.Path, e.Kind)
}

func (e *NotRegularError) Unwrap() error { return ErrNotRegular }

// OpenRegular opens path read-only when, and only when, it is a regular
// file. It never follows a symlink in the last component (O_NOFOLLOW) and
// never blocks on a FIFO or device: the open is non-blocking and the type is
// checked on the open descriptor (fstat), so a swap between a check and the
// open cannot slip another kind of file in. O_NONBLOCK means nothing for a
// regular file, so the file reads normally. Anything else fails with an
// *NotRegularError (ErrNotRegular) that names the kind found; a missing file
// wraps fs.ErrNotExist. The caller closes the file.
func OpenRegular(path string) (*os.File, fs.FileInfo, error) {
	// Look first, so that a device or FIFO is refused without even a
	// non-blocking open (opening some devices has effects of its own);
	// the fstat below is what closes the race with a swap.
	lfi, err := os.Lstat(path)
	if err != nil {
		return nil, nil, err
	}
	if !lfi.Mode().IsRegular() {
		return nil, nil, &NotRegularError{Path: path, Kind: KindOf(lfi.Mode())}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, nil, &NotRegularError{Path: path, Kind: "a symlink"}
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: path, Kind: KindOf(fi.Mode())}
	}
	return f, fi, nil
}

// KindOf names the type of a file mode for messages.
func KindOf(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file (" + m.Type().String() + ")"
}

// ReadRegular reads the whole regular file at path (OpenRegular's rules),
// refusing one larger than limit bytes without reading more than limit+1.
func ReadRegular(path string, limit int64) ([]byte, error) {
	f, fi, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the limit of %d", path, fi.Size(), limit)
	}
	// The size may change while we read: read at most limit+1 bytes.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: more than the limit of %d bytes", path, limit)
	}
	return data, nil
}
