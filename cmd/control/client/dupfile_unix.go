//go:build unix

package client

import (
	"os"

	"golang.org/x/sys/unix"
)

// dupFile returns a second *os.File on f's open file (sharing its offset),
// close-on-exec, for a reader that closes what it is given: net/http
// closes a request body once sent.
func dupFile(f *os.File) (*os.File, bool) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	nfd := -1
	if err := sc.Control(func(fd uintptr) {
		nfd, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || nfd < 0 {
		return nil, false
	}
	return os.NewFile(uintptr(nfd), f.Name()), true
}
