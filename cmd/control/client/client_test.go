package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/h1"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// rawDaemon is a "daemon" at a remote --control-addr that answers every
// request's head with answer, then holds the connection until its client
// closes it.
func rawDaemon(t *testing.T, answer string) string {
	return testutil.RawServer(t, func(_ string, conn net.Conn) {
		io.WriteString(conn, answer)
		io.Copy(io.Discard, conn)
	})
}

// TestMalformedDaemon: a daemon that answers what is not HTTP is refused
// with one line naming it, never trusted.
func TestMalformedDaemon(t *testing.T) {
	for name, answer := range map[string]string{
		"garbage":     "\x00\x01\x02 hello\r\n\r\n",
		"huge header": "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n",
		"bad chunk":   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("x", 1<<16) + "\r\n{\r\n",
		"smuggling":   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}",
	} {
		t.Run(name, func(t *testing.T) {
			addr := rawDaemon(t, answer)
			c := client.NewClient(addr, "")
			defer c.Close()
			_, err := c.Status(t.Context())
			if !errors.Is(err, h1.ErrMalformed) {
				t.Fatalf("got %v, want h1.ErrMalformed", err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, addr) || len(msg) > 300 {
				t.Errorf("not one short line naming %s: %q", addr, msg)
			}
		})
	}
}

// TestErrorAnswer: an error response becomes an *api.APIError of its
// class, whether it came with a length or chunked.
func TestErrorAnswer(t *testing.T) {
	body := `{"error":"not_found","message":"module x not found"}`
	for name, answer := range map[string]string{
		"length":  "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 52\r\n\r\n" + body,
		"chunked": "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n34\r\n" + body + "\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := client.NewClient(rawDaemon(t, answer), "")
			_, err := c.Resolve(t.Context(), "x", "")
			var ae *api.APIError
			if !errors.As(err, &ae) || ae.Status != 404 || !errors.Is(err, errdefs.ErrNotFound) || err.Error() != "module x not found" {
				t.Fatalf("got %v (%#v)", err, ae)
			}
		})
	}
}

// TestNotRunning: nothing listening is api.ErrNotRunning.
func TestNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = client.NewClient(addr, "").Status(t.Context())
	if !errors.Is(err, api.ErrNotRunning) {
		t.Fatalf("got %v, want api.ErrNotRunning", err)
	}
}

// TestSilentDaemon: a daemon that never answers holds a call only as long
// as its context; the error is the context's.
func TestSilentDaemon(t *testing.T) {
	addr := rawDaemon(t, "")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.NewClient(addr, "").Status(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("it took %v", d)
	}
}
