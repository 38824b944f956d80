package gmp

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// discardConn is a connection whose writes vanish: it measures what the
// server does for a request apart from the socket. Its raw socket takes
// every write whole at once (so writeSmallLocked's path is the daemon's).
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }

type discardRaw struct{}

func (discardRaw) Control(func(fd uintptr)) error { return nil }
func (discardRaw) Read(func(fd uintptr) bool) error {
	return io.EOF
}

func (discardRaw) Write(func(fd uintptr) bool) error { return nil }

// discard makes c write to discardConn through discardRaw.
func discard(c *conn) {
	c.enc.conn = discardConn{c.nc}
	c.enc.raw, c.enc.rawWrite = discardRaw{}, func(uintptr) bool { return true }
}

// BenchmarkHandle: the server's own work for one DISCOVER or CONNECT (64
// nodes registered), from the framed message to the reply handed to the
// socket (the CPU a request costs beyond a line-echo server's, less the
// reply's bytes and the framing).
func BenchmarkHandle(b *testing.B) {
	s := NewServer(Config{})
	a, peer := net.Pipe()
	defer a.Close()
	defer peer.Close()
	for i := range 64 {
		c := s.newConn(a)
		discard(c)
		if !c.handle(fmt.Appendf(nil, `{"type":1,"code":1,"id":0,"body":{"name":"node-%02d","id":"n%d","port":%d}}`, i, i, 40000+i)) {
			b.Fatal("register")
		}
	}
	c := s.newConn(a)
	discard(c)
	for _, req := range []struct{ name, msg string }{
		{"DISCOVER", `{"type":1,"code":5,"id":1}`},
		{"CONNECT", `{"type":1,"code":7,"id":2,"body":{"name":"node-01"}}`},
	} {
		b.Run(req.name, func(b *testing.B) {
			msg := []byte(req.msg)
			for b.Loop() {
				if !c.handle(msg) {
					b.Fatal("handle")
				}
			}
		})
	}
}
