package testutil

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// RawServer listens on a loopback port of its own and, for each connection
// in turn, reads a request's head (up to its empty line) and hands it to
// answer with the connection (whose reads continue after the head): a
// server that may write any bytes at all, for testing a client against a
// peer that breaks the rules. Each connection has a deadline of 10 s and is
// closed when answer returns; the server stops, and waits for answer, at
// the end of the test. It returns the host:port.
func RawServer(t testing.TB, answer func(head string, conn net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			var head strings.Builder
			for {
				line, err := br.ReadString('\n')
				head.WriteString(line)
				if err != nil || line == "\r\n" {
					break
				}
			}
			answer(head.String(), &bufferedConn{Conn: conn, r: br})
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// bufferedConn reads through the reader that read the head.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
