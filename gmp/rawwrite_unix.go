//go:build unix

package gmp

import (
	"io"
	"net"
	"syscall"
)

// writeNonblock writes b to the non-blocking socket fd until the kernel
// takes no more: rest is what is left, done is true once b is written
// whole, err the write's error (EAGAIN, a full buffer, is none).
func writeNonblock(fd uintptr, b []byte) (rest []byte, done bool, err error) {
	for len(b) > 0 {
		n, err := syscall.Write(int(fd), b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return b, false, nil
		case err != nil:
			return b, false, err
		case n == 0:
			return b, false, io.ErrShortWrite
		}
	}
	return b, true, nil
}

// socketOf is nc's socket for encoder.raw; nil when nc is not one.
func socketOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
