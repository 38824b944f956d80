package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// Limits on what the server sends before a body, and on chunk-size lines.
const (
	// MaxLineBytes bounds the status line, each header line and each
	// chunk-size line (with its extensions).
	MaxLineBytes = 8 << 10
	// MaxHeaderBytes bounds a response's head: status line and headers
	// (and, separately, a chunked body's trailers).
	MaxHeaderBytes = 64 << 10
	// MaxHeaders bounds the header lines of a head (and of trailers).
	MaxHeaders = 100
	// maxInterim bounds the 1xx responses before the final one.
	maxInterim = 8
	// quoteBytes is how much of a malformed line an error quotes.
	quoteBytes = 64
)

// ErrMalformed: the server's response breaks HTTP/1.1 or a limit above.
var ErrMalformed = errors.New("malformed HTTP response")

// Response is a response's head and its body.
type Response struct {
	StatusCode int
	// Status is the code and the reason phrase: "404 Not Found".
	Status string
	Proto  string // "HTTP/1.1" or "HTTP/1.0"
	Header textproto.MIMEHeader
	// ContentLength is the body's length, -1 when it is chunked or ends
	// with the connection.
	ContentLength int64
	// Body is the body, delimited as the head says. Close closes the
	// connection; it must be called.
	Body io.ReadCloser
	// Request is the request this answers.
	Request *Request
}

// malformed is an ErrMalformed saying what, quoting line.
func malformed(what string, line []byte) error {
	if line == nil {
		return fmt.Errorf("%w: %s", ErrMalformed, what)
	}
	q := line
	if len(q) > quoteBytes {
		q = q[:quoteBytes]
	}
	more := ""
	if len(line) > quoteBytes {
		more = "…"
	}
	return fmt.Errorf("%w: %s: %q%s", ErrMalformed, what, q, more)
}

// headReader reads the lines of a head (or trailers) within their limits.
type headReader struct {
	br    *bufio.Reader
	left  int // bytes the head may still take
	lines int // header lines read
}

// line reads one line without its CRLF (or bare LF). A line longer than
// MaxLineBytes or past the head's byte budget is malformed; a connection
// that ends inside a line is io.ErrUnexpectedEOF (io.EOF before its first
// byte).
func (h *headReader) line(what string) ([]byte, error) {
	var line []byte
	for {
		frag, err := h.br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > MaxLineBytes || len(line) > h.left {
			return nil, malformed(what+" too long", line)
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	h.left -= len(line)
	line = line[:len(line)-1]
	return bytes.TrimSuffix(line, []byte{'\r'}), nil
}

// fields reads header lines up to the empty line that ends them.
func (h *headReader) fields(hdr textproto.MIMEHeader) error {
	for {
		line, err := h.line("header line")
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if h.lines++; h.lines > MaxHeaders {
			return malformed(fmt.Sprintf("more than %d header lines", MaxHeaders), nil)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return malformed("folded header line", line)
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || !isToken(name) {
			return malformed("header line", line)
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return malformed("control byte in a header value", line)
			}
		}
		key := textproto.CanonicalMIMEHeaderKey(string(name))
		hdr[key] = append(hdr[key], string(value))
	}
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ReadResponse reads one response's head from br and gives it the body
// the head delimits, reading from br. It checks everything listed in the
// package doc. The body's Close does nothing but stop it; Do wraps it.
func ReadResponse(br *bufio.Reader) (*Response, error) {
	h := &headReader{br: br, left: MaxHeaderBytes}
	line, err := h.line("status line")
	if err != nil {
		return nil, err
	}
	resp := &Response{Header: textproto.MIMEHeader{}}
	proto, rest, ok := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "HTTP/1.1", "HTTP/1.0":
	default:
		return nil, malformed("status line", line)
	}
	resp.Proto = string(proto)
	code, reason, _ := bytes.Cut(rest, []byte{' '})
	if !ok || len(code) != 3 || code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
		return nil, malformed("status line", line)
	}
	for _, c := range reason {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, malformed("status line", line)
		}
	}
	resp.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	resp.Status = strings.TrimSpace(string(code) + " " + string(reason))
	if err := h.fields(resp.Header); err != nil {
		return nil, err
	}
	if err := resp.frame(br); err != nil {
		return nil, err
	}
	return resp, nil
}

// frame sets the response's ContentLength and Body from its head.
func (resp *Response) frame(br *bufio.Reader) error {
	resp.ContentLength = -1
	te, hasTE := resp.Header["Transfer-Encoding"]
	cl, hasCL := resp.Header["Content-Length"]
	if resp.StatusCode/100 == 1 || resp.StatusCode == 204 || resp.StatusCode == 304 {
		// No body, whatever the head says about one.
		resp.ContentLength = 0
		resp.Body = io.NopCloser(bytes.NewReader(nil))
		return nil
	}
	if hasTE && hasCL {
		return malformed("both Transfer-Encoding and Content-Length", nil)
	}
	if hasTE {
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return malformed("Transfer-Encoding other than chunked", []byte(strings.Join(te, ", ")))
		}
		resp.Body = io.NopCloser(&chunkedReader{br: br})
		return nil
	}
	if hasCL {
		n, err := parseContentLength(cl)
		if err != nil {
			return err
		}
		resp.ContentLength = n
		resp.Body = io.NopCloser(&lengthReader{r: br, left: n})
		return nil
	}
	// Neither: the body ends with the connection (HTTP/1.0 style).
	resp.Body = io.NopCloser(br)
	return nil
}

// parseContentLength reads the one value the Content-Length lines agree on.
func parseContentLength(values []string) (int64, error) {
	var n int64 = -1
	for _, v := range values {
		if v == "" || len(v) > 19 || strings.TrimLeft(v, "0123456789") != "" {
			return 0, malformed("Content-Length", []byte(v))
		}
		m, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, malformed("Content-Length", []byte(v))
		}
		if n >= 0 && m != n {
			return 0, malformed("Content-Length lines that differ", []byte(strings.Join(values, ", ")))
		}
		n = m
	}
	return n, nil
}

// lengthReader reads exactly left bytes from r: an end before them is
// io.ErrUnexpectedEOF.
type lengthReader struct {
	r    io.Reader
	left int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err == io.EOF {
		if l.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	return n, err
}
