package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// BodyChunk is the size of a request body's reads and socket writes (and
// of its chunks, when chunked), for a body that is not a regular file:
// 256 KiB is the daemon's blob write size, where 32 KiB pieces would cost
// 512 reads and writes a side for 16 MiB. A regular file of known size
// goes to the socket by sendfile(2), with no copy through this process.
const BodyChunk = 256 << 10

// Request is one request.
type Request struct {
	Method string
	// Target is the request target as sent: the path and query, already
	// escaped.
	Target string
	Host   string
	// Header holds the other fields. Do sets Host, Content-Length or
	// Transfer-Encoding, Connection and Expect itself.
	Header textproto.MIMEHeader
	// Body is the body, nil for none. Do reads it (never closes it), and
	// no longer once Do has failed or the response's body is closed.
	Body io.Reader
	// ContentLength is how many bytes Body holds; -1 for unknown, sent
	// chunked. Body must hold exactly that many: fewer fails the request
	// (the server sees a body cut short), and no more is read.
	ContentLength int64
	// ContinueTimeout, when above 0 and with a Body, sends Expect:
	// 100-continue and waits this long for the server's 100 (or its
	// refusal, which then comes without the body having been sent) before
	// sending the body anyway.
	ContinueTimeout time.Duration
}

// errNotSent: the body was never sent, the server answered first.
var errNotSent = errors.New("body not sent")

// Do sends req on conn and reads the response's head. It owns conn from
// then on (see the package doc): it is closed when Do fails, when ctx
// ends, or when the response's body is closed. A status of any kind is a
// response, not an error. When ctx ends, the error is ctx's.
func Do(ctx context.Context, conn net.Conn, req *Request) (*Response, error) {
	if err := checkRequest(req); err != nil {
		conn.Close()
		return nil, err
	}
	x := &exchange{ctx: ctx, conn: conn, req: req}
	x.stop = context.AfterFunc(ctx, func() { conn.Close() })
	resp, err := x.run()
	if err != nil {
		x.close()
		return nil, x.ctxErr(err)
	}
	resp.Request = req
	resp.Body = &body{r: resp.Body, x: x}
	return resp, nil
}

// exchange is one request and its response on one connection.
type exchange struct {
	ctx  context.Context
	conn net.Conn
	req  *Request
	stop func() bool // stops the close on ctx's end
	// wrote, when a body goroutine runs, receives its result once.
	wrote    chan error
	writeErr error
	// answered is set once the final response's head is read.
	answered atomic.Bool
	once     sync.Once
}

func (x *exchange) run() (*Response, error) {
	bw := bufio.NewWriterSize(x.conn, 4<<10)
	hasBody := x.req.Body != nil && x.req.ContentLength != 0
	expect := hasBody && x.req.ContinueTimeout > 0
	writeHead(bw, x.req, hasBody, expect)
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	var proceed, abort chan struct{}
	if hasBody {
		proceed, abort = make(chan struct{}), make(chan struct{})
		wrote := make(chan error, 1)
		x.wrote = wrote
		go func(proceed, abort <-chan struct{}) {
			err := x.sendBody(bw, expect, proceed, abort)
			if err != nil && err != errNotSent && !x.answered.Load() {
				// A body that failed (cut short, a reader's error, a
				// reset) ends the request: the server must not wait for
				// the rest, nor the reader of the answer for the server.
				// Once the answer came, it is read to its end instead.
				x.conn.Close()
			}
			wrote <- err
		}(proceed, abort)
	}
	br := bufio.NewReaderSize(x.conn, MaxLineBytes)
	for interim := 0; ; interim++ {
		resp, err := ReadResponse(br)
		if err != nil {
			if x.wrote != nil {
				// A body that failed is what ended the connection (a
				// reset while it went is what uploadCut in the client
				// looks for), unless it failed only because the
				// connection was closed here.
				x.conn.Close()
				if werr := x.waitBody(); werr != nil && werr != errNotSent && !errors.Is(werr, net.ErrClosed) {
					return nil, werr
				}
			}
			if err == io.EOF {
				err = fmt.Errorf("the server closed the connection before answering: %w", io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		if resp.StatusCode/100 != 1 {
			x.answered.Store(true)
			if abort != nil {
				close(abort)
			}
			return resp, nil
		}
		if interim >= maxInterim {
			return nil, malformed(fmt.Sprintf("more than %d interim (1xx) responses", maxInterim), nil)
		}
		if resp.StatusCode == 100 && proceed != nil {
			close(proceed)
			proceed = nil
		}
	}
}

// sendBody writes the request's body once the server said to proceed, or
// the wait is over; not at all when the server answered first (abort).
func (x *exchange) sendBody(bw *bufio.Writer, expect bool, proceed, abort <-chan struct{}) error {
	if expect {
		t := time.NewTimer(x.req.ContinueTimeout)
		defer t.Stop()
		select {
		case <-proceed:
		case <-t.C:
		case <-abort:
			return errNotSent
		}
	}
	n := x.req.ContentLength
	if f, ok := x.req.Body.(*os.File); ok && n > 0 {
		// A file goes by sendfile(2) where the connection can (TCP,
		// and Unix sockets on Linux), else by a plain copy.
		sent, err := io.Copy(x.conn, &io.LimitedReader{R: f, N: n})
		if err == nil && sent < n {
			err = fmt.Errorf("request body: the file ended after %d of %d bytes", sent, n)
		}
		return err
	}
	buf := make([]byte, BodyChunk)
	var sent int64
	for n < 0 || sent < n {
		p := buf
		if n >= 0 && int64(len(p)) > n-sent {
			p = p[:n-sent]
		}
		m, rerr := io.ReadFull(x.req.Body, p)
		if m > 0 {
			if n < 0 {
				fmt.Fprintf(bw, "%x\r\n", m)
			}
			bw.Write(p[:m])
			if n < 0 {
				bw.WriteString("\r\n")
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			sent += int64(m)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			if n >= 0 && sent < n {
				return fmt.Errorf("request body: it ended after %d of %d bytes", sent, n)
			}
			break
		}
		if rerr != nil {
			return fmt.Errorf("request body: %w", rerr)
		}
	}
	if n < 0 {
		bw.WriteString("0\r\n\r\n")
	}
	return bw.Flush()
}

// waitBody waits for the body's goroutine, if any, and returns its error.
func (x *exchange) waitBody() error {
	if x.wrote != nil {
		x.writeErr, x.wrote = <-x.wrote, nil
	}
	return x.writeErr
}

// close ends the exchange: the connection, then the body's goroutine.
func (x *exchange) close() {
	x.once.Do(func() {
		x.stop()
		x.conn.Close()
		x.waitBody()
	})
}

// ctxErr is err, or ctx's error when ctx ended (which closed the
// connection, the likely cause of err).
func (x *exchange) ctxErr(err error) error {
	if cerr := x.ctx.Err(); cerr != nil && err != nil && err != io.EOF {
		return cerr
	}
	return err
}

// body is a response's body: reading it reports ctx's end as ctx's error,
// closing it closes the exchange.
type body struct {
	r io.Reader
	x *exchange
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	return n, b.x.ctxErr(err)
}

func (b *body) Close() error {
	b.x.close()
	return nil
}

// checkRequest refuses a request that would not be one line and headers:
// a CR, LF or NUL in a value (a token read from a file, say) would let it
// write fields of its own.
func checkRequest(req *Request) error {
	bad := func(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }
	if req.Method == "" || strings.ContainsAny(req.Method, " \r\n\x00") || req.Target == "" || strings.ContainsAny(req.Target, " \t\r\n\x00") || bad(req.Host) {
		return fmt.Errorf("h1: invalid request line or host: %q %q %q", req.Method, req.Target, req.Host)
	}
	for k, vs := range req.Header {
		if !isToken([]byte(k)) {
			return fmt.Errorf("h1: invalid header name %q", k)
		}
		for _, v := range vs {
			if bad(v) {
				return fmt.Errorf("h1: invalid value of header %s: it holds a CR, LF or NUL", k)
			}
		}
	}
	return nil
}

// writeHead writes the request line and header to bw.
func writeHead(bw *bufio.Writer, req *Request, hasBody, expect bool) {
	bw.WriteString(req.Method + " " + req.Target + " HTTP/1.1\r\nHost: " + req.Host + "\r\n")
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect":
			continue
		}
		for _, v := range vs {
			bw.WriteString(k + ": " + v + "\r\n")
		}
	}
	switch {
	case !hasBody:
		if req.Body != nil || req.Method == "POST" || req.Method == "PUT" {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case req.ContentLength < 0:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		bw.WriteString("Content-Length: " + strconv.FormatInt(req.ContentLength, 10) + "\r\n")
	}
	if expect {
		bw.WriteString("Expect: 100-continue\r\n")
	}
	bw.WriteString("Connection: close\r\n\r\n")
}
