package gmp

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerClosed reports whether the peer of nc has already closed its end
// (its FIN or RST has arrived) though the connection's goroutine has not
// read that far yet. It asks the kernel with a poll that does not wait,
// so it never blocks and never consumes input. False when it cannot tell.
func peerClosed(nc net.Conn) bool {
	rc := socketOf(nc)
	if rc == nil {
		return false
	}
	closed := false
	rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		for range 3 { // EINTR: try again, a few times at most
			n, err := unix.Poll(fds, 0)
			if err == unix.EINTR {
				continue
			}
			closed = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
			return
		}
	})
	return closed
}
