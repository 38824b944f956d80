package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// TrustedSocket reports whether the CLI may talk to the control socket of
// data folder dir: it exists, is a socket, and it and dir belong to this
// user or root and cannot be replaced by others (as readTrusted asks of
// the state file: a socket planted in someone else's folder would receive
// the token). ok is false with a nil error when there is no socket.
func TrustedSocket(dir string) (path string, ok bool, err error) {
	path = filepath.Join(dir, SocketFile)
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return path, false, nil
		}
		return path, false, err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return path, false, &UntrustedError{Path: path, Reason: "is not a socket"}
	}
	if err := checkOwner(path, fi); err != nil {
		return path, false, err
	}
	di, err := os.Stat(dir)
	if err != nil {
		return path, false, err
	}
	if err := checkOwner(dir, di); err != nil {
		return path, false, err
	}
	if di.Mode().Perm()&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return path, false, &UntrustedError{Path: dir, Reason: fmt.Sprintf("is writable by other users (mode %04o), who could replace %s", di.Mode().Perm(), SocketFile), Fix: "chmod go-w " + dir}
	}
	return path, true, nil
}
