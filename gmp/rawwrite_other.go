//go:build !unix

package gmp

import (
	"errors"
	"net"
	"syscall"
)

// writeNonblock is unix's: elsewhere newConn leaves encoder.raw nil and
// every write goes through writeLocked.
func writeNonblock(uintptr, []byte) ([]byte, bool, error) {
	return nil, false, errors.New("gmp: no non-blocking write on this system")
}

// socketOf is nil: see writeNonblock.
func socketOf(net.Conn) syscall.RawConn { return nil }
