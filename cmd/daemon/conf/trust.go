package conf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// UntrustedError says why a file the CLI or the daemon would act on (a
// state file, a token file) is not trusted: it or its folder belongs to
// another user, or others may change it, or, for a secret, read it.
type UntrustedError struct {
	Path   string
	Reason string
	Fix    string // a command that makes it trusted, if there is one
}

func (e *UntrustedError) Error() string {
	msg := fmt.Sprintf("%s %s", e.Path, e.Reason)
	if e.Fix != "" {
		msg += ": " + e.Fix
	}
	return msg
}

// Unwrap makes it an ErrConfig: a setting (a file) that cannot be used.
func (e *UntrustedError) Unwrap() error { return ErrConfig }

// maxTrustedFile bounds what readTrusted reads: a state or token file is a
// few hundred bytes, and a FIFO or /dev/zero planted in its place must not
// make the CLI read without end.
const maxTrustedFile = 64 << 10

// readTrusted reads a small file the caller will act on (send its content
// as a token, connect where it says), only when the file and its folder
// belong to this process's user or to root, and neither can be changed by
// others (a folder writable by others is accepted with the sticky bit, as
// /tmp). secret also refuses a file others may read, as ssh does for keys.
// The checks are made on the opened file, so a swap after them changes
// nothing.
func readTrusted(path string, secret bool) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &UntrustedError{Path: path, Reason: "is not a regular file"}
	}
	if err := checkOwner(path, fi); err != nil {
		return nil, err
	}
	perm := fi.Mode().Perm()
	if secret && perm&0o077 != 0 {
		return nil, &UntrustedError{Path: path, Reason: fmt.Sprintf("is open to other users (mode %04o); a token must be private", perm), Fix: "chmod 600 " + path}
	}
	if perm&0o022 != 0 {
		return nil, &UntrustedError{Path: path, Reason: fmt.Sprintf("is writable by other users (mode %04o)", perm), Fix: "chmod go-w " + path}
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if err := checkOwner(dir, di); err != nil {
		return nil, err
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return nil, &UntrustedError{Path: dir, Reason: fmt.Sprintf("is writable by other users (mode %04o), who could replace %s", di.Mode().Perm(), filepath.Base(path)), Fix: "chmod go-w " + dir}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTrustedFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxTrustedFile {
		return nil, &UntrustedError{Path: path, Reason: fmt.Sprintf("is larger than %d bytes", maxTrustedFile)}
	}
	return data, nil
}

// checkOwner accepts a file of this process's user or of root.
func checkOwner(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New(path + ": no owner information")
	}
	if euid := uint32(os.Geteuid()); st.Uid != euid && st.Uid != 0 {
		return &UntrustedError{Path: path, Reason: fmt.Sprintf("belongs to uid %d, neither you (uid %d) nor root", st.Uid, euid)}
	}
	return nil
}
