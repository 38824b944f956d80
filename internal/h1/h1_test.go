package h1

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// fixed answers every request with the bytes of s.
func fixed(s string) func(string, net.Conn) {
	return func(_ string, conn net.Conn) { io.WriteString(conn, s) }
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func get(t *testing.T, addr string) (*Response, error) {
	t.Helper()
	return Do(t.Context(), dial(t, addr), &Request{Method: "GET", Target: "/v1/status", Host: addr})
}

// readAll reads a response's body and closes it.
func readAll(resp *Response) (string, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}

func TestContentLength(t *testing.T) {
	heads := make(chan string, 1)
	addr := testutil.RawServer(t, func(head string, conn net.Conn) {
		heads <- head
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Two: a\r\nx-two:  b \r\nContent-Length: 5\r\n\r\nhelloIGNORED")
	})
	req := &Request{Method: "GET", Target: "/v1/modules?x=1", Host: "gpmd.sock", Header: textproto.MIMEHeader{"Authorization": {"Bearer tok"}}}
	resp, err := Do(t.Context(), dial(t, addr), req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := readAll(resp)
	if err != nil || body != "hello" {
		t.Fatalf("body %q, %v; want hello", body, err)
	}
	if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.ContentLength != 5 || resp.Request != req {
		t.Errorf("response %d %q length %d", resp.StatusCode, resp.Status, resp.ContentLength)
	}
	if got := resp.Header["X-Two"]; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("X-Two %q, want [a b]", got)
	}
	head := <-heads
	for _, want := range []string{"GET /v1/modules?x=1 HTTP/1.1\r\n", "Host: gpmd.sock\r\n", "Authorization: Bearer tok\r\n", "Connection: close\r\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("request head %q lacks %q", head, want)
		}
	}
	if strings.Contains(head, "Content-Length") || strings.Contains(head, "Expect") {
		t.Errorf("a GET without a body sent %q", head)
	}
}

func TestChunked(t *testing.T) {
	addr := testutil.RawServer(t, fixed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5;ext=1\r\nhello\r\n"+"1 \r\n \r\n"+"A\r\n0123456789\r\n"+"0\r\nTrailer: x\r\n\r\n"))
	resp, err := get(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ContentLength != -1 {
		t.Errorf("ContentLength %d, want -1", resp.ContentLength)
	}
	body, err := readAll(resp)
	if err != nil || body != "hello 0123456789" {
		t.Fatalf("body %q, %v", body, err)
	}
}

func TestBodyToClose(t *testing.T) {
	addr := testutil.RawServer(t, fixed("HTTP/1.0 200\r\n\r\nuntil the end"))
	resp, err := get(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	body, err := readAll(resp)
	if err != nil || body != "until the end" || resp.Status != "200" || resp.Proto != "HTTP/1.0" {
		t.Fatalf("body %q, %v, status %q %q", body, err, resp.Status, resp.Proto)
	}
}

func TestNoBodyStatuses(t *testing.T) {
	addr := testutil.RawServer(t, fixed("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"))
	resp, err := get(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := readAll(resp); err != nil || body != "" {
		t.Fatalf("204 body %q, %v", body, err)
	}
}

// TestCutShort: a body that ends before its length or its last chunk is
// io.ErrUnexpectedEOF, never a short success.
func TestCutShort(t *testing.T) {
	for name, answer := range map[string]string{
		"length":      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
		"chunk":       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
		"size line":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
		"no last":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3",
		"trailers":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
		"chunk CRLF":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",
		"mid-header":  "HTTP/1.1 200 OK\r\nContent-Le",
		"after line":  "HTTP/1.1 200 OK\r\n",
		"status line": "HTTP/1.1 2",
	} {
		t.Run(name, func(t *testing.T) {
			addr := testutil.RawServer(t, fixed(answer))
			resp, err := get(t, addr)
			if err == nil {
				_, err = readAll(resp)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// TestNothingAnswered: a server that closes without a byte.
func TestNothingAnswered(t *testing.T) {
	addr := testutil.RawServer(t, fixed(""))
	_, err := get(t, addr)
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "closed the connection before answering") {
		t.Fatalf("got %v", err)
	}
}

// TestMalformed: every break of the rules is refused with ErrMalformed and
// one line, from Do or from the body.
func TestMalformed(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes)
	many := strings.Repeat("X-A: b\r\n", MaxHeaders+1)
	big := strings.Repeat("X-Big: "+strings.Repeat("y", 1000)+"\r\n", 70)
	for name, answer := range map[string]string{
		"not http":         "SSH-2.0-OpenSSH\r\n\r\n",
		"http/2":           "HTTP/2 200 OK\r\n\r\n",
		"no status":        "HTTP/1.1\r\n\r\n",
		"short status":     "HTTP/1.1 20 OK\r\n\r\n",
		"status letters":   "HTTP/1.1 2x0 OK\r\n\r\n",
		"status 600":       "HTTP/1.1 600 OK\r\n\r\n",
		"status 4 digits":  "HTTP/1.1 2000 OK\r\n\r\n",
		"ctl in reason":    "HTTP/1.1 200 O\x01K\r\n\r\n",
		"long status line": "HTTP/1.1 200 " + long + "\r\n\r\n",
		"long header line": "HTTP/1.1 200 OK\r\nX-Long: " + long + "\r\n\r\n",
		"too many headers": "HTTP/1.1 200 OK\r\n" + many + "\r\n",
		"head too big":     "HTTP/1.1 200 OK\r\n" + big + "\r\n",
		"folded":           "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n",
		"no colon":         "HTTP/1.1 200 OK\r\nX-A b\r\n\r\n",
		"space in name":    "HTTP/1.1 200 OK\r\nX A: b\r\n\r\n",
		"empty name":       "HTTP/1.1 200 OK\r\n: b\r\n\r\n",
		"ctl in value":     "HTTP/1.1 200 OK\r\nX-A: b\x00c\r\n\r\n",
		"cl and te":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"te gzip":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"two te":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"cl negative":      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"cl plus":          "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		"cl hex":           "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello",
		"cl overflow":      "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
		"cl empty":         "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"cl differ":        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"chunk size hex":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"chunk size empty": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
		"chunk size long":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n",
		"chunk negative":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
		"chunk line long":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;" + long + "\r\nhello\r\n0\r\n\r\n",
		"chunk no CRLF":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
		"bad trailer":      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
		"interim flood":    strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", maxInterim+2) + "HTTP/1.1 200 OK\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			addr := testutil.RawServer(t, fixed(answer))
			resp, err := get(t, addr)
			if err == nil {
				_, err = readAll(resp)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || len(msg) > 200 {
				t.Errorf("the error is not one short line: %q", msg)
			}
		})
	}
}

// TestRequestChecked: a value that would add header lines is refused
// before anything is sent, and the connection closed.
func TestRequestChecked(t *testing.T) {
	for name, req := range map[string]*Request{
		"token":  {Method: "GET", Target: "/", Host: "h", Header: textproto.MIMEHeader{"Authorization": {"Bearer x\r\nX-Evil: 1"}}},
		"target": {Method: "GET", Target: "/ HTTP/1.0\r\n", Host: "h"},
		"host":   {Method: "GET", Target: "/", Host: "h\nX: y"},
		"name":   {Method: "GET", Target: "/", Host: "h", Header: textproto.MIMEHeader{"X A": {"b"}}},
	} {
		t.Run(name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			if _, err := Do(t.Context(), a, req); err == nil {
				t.Fatal("Do accepted it")
			}
			if _, err := a.Write([]byte("x")); err == nil {
				t.Error("the connection was left open")
			}
		})
	}
}

// echo is a net/http server that answers with what it received: the
// body's length, its SHA-256 and its transfer encoding.
func echo(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "%d %x %s %s", n, h.Sum(nil), strings.Join(r.TransferEncoding, ","), r.Header.Get("Connection"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func put(t *testing.T, addr string, body io.Reader, size int64) (string, error) {
	t.Helper()
	req := &Request{Method: "PUT", Target: "/up", Host: addr, Body: body, ContentLength: size, ContinueTimeout: time.Second}
	resp, err := Do(t.Context(), dial(t, addr), req)
	if err != nil {
		return "", err
	}
	return readAll(resp)
}

// TestRequestBodies: a body of known size, a chunked one, and a regular
// file (sendfile), against net/http's own server; all behind Expect:
// 100-continue, which net/http answers when the handler reads.
func TestRequestBodies(t *testing.T) {
	srv := echo(t)
	addr := srv.Listener.Addr().String()
	data := bytes.Repeat([]byte("0123456789abcdef"), (3*BodyChunk+100)/16) // several pieces
	want := func(te string) string {
		return fmt.Sprintf("%d %x %s close", len(data), sha256.Sum256(data), te)
	}
	if got, err := put(t, addr, bytes.NewReader(data), int64(len(data))); err != nil || got != want("") {
		t.Errorf("sized: %q, %v; want %q", got, err, want(""))
	}
	if got, err := put(t, addr, io.MultiReader(bytes.NewReader(data)), -1); err != nil || got != want("chunked") {
		t.Errorf("chunked: %q, %v; want %q", got, err, want("chunked"))
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := put(t, addr, f, int64(len(data))); err != nil || got != want("") {
		t.Errorf("file: %q, %v; want %q", got, err, want(""))
	}
	// Empty: Content-Length: 0 and nothing else.
	if got, err := put(t, addr, bytes.NewReader(nil), 0); err != nil || got != fmt.Sprintf("0 %x  close", sha256.Sum256(nil)) {
		t.Errorf("empty: %q, %v", got, err)
	}
}

// TestShortBody: a body that holds less than its ContentLength fails the
// request; the server sees a body cut short and nothing more.
func TestShortBody(t *testing.T) {
	srv := echo(t)
	addr := srv.Listener.Addr().String()
	_, err := put(t, addr, strings.NewReader("abc"), 10)
	if err == nil {
		t.Fatal("a body of 3 bytes went as 10")
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestExpectRefused: a server that refuses from the head alone gets no
// byte of the body.
func TestExpectRefused(t *testing.T) {
	heads := make(chan string, 1)
	addr := testutil.RawServer(t, func(head string, conn net.Conn) {
		heads <- head
		io.WriteString(conn, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno")
	})
	body := &countingReader{r: bytes.NewReader(make([]byte, 1<<20))}
	req := &Request{Method: "PUT", Target: "/up", Host: addr, Body: body, ContentLength: 1 << 20, ContinueTimeout: 10 * time.Second}
	start := time.Now()
	resp, err := Do(t.Context(), dial(t, addr), req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(resp)
	if err != nil || resp.StatusCode != 413 || got != "no" {
		t.Fatalf("%d %q %v", resp.StatusCode, got, err)
	}
	if n := body.n.Load(); n != 0 {
		t.Errorf("%d bytes of the body were read", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refusal took %v: it waited for the continue timeout", d)
	}
	if head := <-heads; !strings.Contains(head, "Expect: 100-continue\r\n") || !strings.Contains(head, "Content-Length: 1048576\r\n") {
		t.Errorf("head %q", head)
	}
}

// TestExpectSilent: a server that never sends 100 gets the body once the
// wait is over.
func TestExpectSilent(t *testing.T) {
	addr := testutil.RawServer(t, func(_ string, conn net.Conn) {
		b, _ := io.ReadAll(io.LimitReader(conn, 5))
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	req := &Request{Method: "PUT", Target: "/up", Host: addr, Body: strings.NewReader("hello"), ContentLength: 5, ContinueTimeout: 50 * time.Millisecond}
	resp, err := Do(t.Context(), dial(t, addr), req)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(resp); err != nil || got != "hello" {
		t.Fatalf("%q %v", got, err)
	}
}

// TestCancel: ending the context closes the connection, while waiting for
// the head and while reading a body that never ends, and the error is the
// context's.
func TestCancel(t *testing.T) {
	// stall answers with prefix, then holds the connection without
	// reading from it until its test ends.
	stall := func(t *testing.T, prefix string) string {
		release := make(chan struct{})
		addr := testutil.RawServer(t, func(_ string, conn net.Conn) {
			io.WriteString(conn, prefix)
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		})
		t.Cleanup(func() { close(release) }) // before RawServer's: it waits for the handler
		return addr
	}
	t.Run("head", func(t *testing.T) {
		addr := stall(t, "")
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Do(ctx, dial(t, addr), &Request{Method: "GET", Target: "/", Host: addr})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("it took %v", d)
		}
	})
	t.Run("stream", func(t *testing.T) {
		addr := stall(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n: hi\n\n\r\n")
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := Do(ctx, dial(t, addr), &Request{Method: "GET", Target: "/v1/events", Host: addr})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != ": hi\n\n" {
			t.Fatalf("%q %v", buf, err)
		}
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = resp.Body.Read(buf)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
	t.Run("upload", func(t *testing.T) {
		// The server takes the head and nothing more: the body's
		// goroutine blocks in a write once the socket buffers fill, and
		// the cancel must free it.
		addr := stall(t, "")
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		body := io.LimitReader(zeros{}, 64<<20)
		_, err := Do(ctx, dial(t, addr), &Request{Method: "PUT", Target: "/", Host: addr, Body: body, ContentLength: -1})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v, want context.DeadlineExceeded", err)
		}
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
