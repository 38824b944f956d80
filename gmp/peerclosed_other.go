//go:build !linux

package gmp

import "net"

// peerClosed cannot tell without POLLRDHUP (Linux): a name held by a
// connection whose peer has just closed stays taken until the server reads
// the end of that connection.
func peerClosed(net.Conn) bool { return false }
