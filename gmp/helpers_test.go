package gmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/gmptest"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

// tinyWasm is the contract's smallest module.
var tinyWasm = testutil.TinyWasm

const tinyDigest = testutil.TinyDigest

// ioTimeout bounds every blocking step of a test.
const ioTimeout = 30 * time.Second

// newRepo is gmptest.Repo: a real repository with tiny v0.0.1.
func newRepo(t testing.TB) *repo.Repo { return gmptest.Repo(t) }

func upload(t testing.TB, r *repo.Repo, name, version string, b []byte) {
	t.Helper()
	gmptest.Upload(t, r, name, version, b)
}

// logBuffer collects a server's log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitLog polls the log for substr, for up to 2 s.
func (l *logBuffer) waitLog(t testing.TB, substr string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(l.String(), substr) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("log never showed %q; log:\n%s", substr, l.String())
}

type testServer struct {
	*Server
	addr string
	log  *logBuffer
	done chan error
}

// startServer serves cfg on 127.0.0.1:0. Cleanup closes it, checks that
// Serve returned ErrServerClosed and that no handler panicked.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	lb := &logBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := NewServer(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, addr: l.Addr().String(), log: lb, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-ts.done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(ioTimeout):
			t.Error("Serve did not return after Close")
		}
		if n := s.panics.Load(); n != 0 {
			t.Errorf("%d handler panics; log:\n%s", n, lb.String())
		}
	})
	return ts
}

// rawConn speaks GMP by hand, byte for byte.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// line reads one reply line (without its line feed).
func (r *rawConn) line() []byte {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := r.br.ReadBytes('\n')
	if err != nil {
		r.t.Fatalf("reading a reply: %v (got %d bytes: %q)", err, len(b), clip(b))
	}
	return b[:len(b)-1]
}

// recv reads one reply and decodes it.
func (r *rawConn) recv() map[string]any {
	r.t.Helper()
	b := r.line()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatalf("reply is not a JSON object: %v: %q", err, b)
	}
	return m
}

// roundTrip sends one request line and returns the reply.
func (r *rawConn) roundTrip(req string) map[string]any {
	r.t.Helper()
	r.send(req + "\n")
	return r.recv()
}

// expectEOF reads to the end of the stream: GPMD closed the connection.
// Whatever arrives before the end must not hold a line feed (no further
// complete reply).
func (r *rawConn) expectEOF() []byte {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(ioTimeout))
	rest, err := io.ReadAll(r.br)
	if err != nil && !isEOF(err) {
		r.t.Fatalf("expected the connection to close, got %v after %q", err, clip(rest))
	}
	if bytes.IndexByte(rest, '\n') >= 0 {
		r.t.Fatalf("expected the connection to close, got more replies: %q", clip(rest))
	}
	return rest
}

// expectError checks an ERROR reply with the given code (and id, when not
// nil).
func expectError(t testing.TB, m map[string]any, code string, id any) {
	t.Helper()
	if m["type"] != 0.0 || m["code"] != 9.0 {
		t.Fatalf("want ERROR %s, got %v", code, m)
	}
	body, _ := m["body"].(map[string]any)
	if body["error"] != code {
		t.Fatalf("want ERROR %s, got %v", code, m)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("ERROR %s without a message: %v", code, m)
	}
	if id != nil && !reflect.DeepEqual(m["id"], id) {
		t.Fatalf("ERROR %s id = %v, want %v", code, m["id"], id)
	}
}

// expectKind checks a reply's type, code and id.
func expectKind(t testing.TB, m map[string]any, typ, code int, id any) map[string]any {
	t.Helper()
	if m["type"] != float64(typ) || m["code"] != float64(code) {
		t.Fatalf("want type %d code %d, got %v", typ, code, m)
	}
	if !reflect.DeepEqual(m["id"], id) {
		t.Fatalf("id = %v, want %v (reply %v)", m["id"], id, m)
	}
	body, ok := m["body"].(map[string]any)
	if !ok {
		t.Fatalf("reply without an object body: %v", m)
	}
	return body
}

// sameJSON compares two messages semantically: field order free, and the
// text of body.message free where both have one.
func sameJSON(t testing.TB, got []byte, want string) {
	t.Helper()
	if err := gmptest.CompareReply(got, want); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to 2 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 2*time.Second, what, cond)
}

// clip keeps failure messages short.
func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(append([]byte(nil), b[:300]...), "…"...)
	}
	return b
}
