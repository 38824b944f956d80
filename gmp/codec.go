package gmp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// Framing errors of a Decoder. After any of them the stream is out of step
// and the Decoder returns the same error forever.
var (
	// ErrBadJSON: the bytes are not a JSON object (GMP error bad_json). A
	// valid JSON value that is not an object — an array, a number — is not
	// a message either and falls in this class.
	ErrBadJSON = errors.New("not a JSON object")
	// ErrMessageTooLarge: a message went past the size limit (GMP error
	// message_too_large).
	ErrMessageTooLarge = errors.New("message too large")
	// ErrMessageTimeout: a message was begun but not finished within the
	// message timeout.
	ErrMessageTimeout = errors.New("message not finished in time")
)

// errConnClosing is returned by Next when the server closed the connection
// while the Decoder waited between messages.
var errConnClosing = errors.New("connection closing")

// Decoder reads GMP messages from one stream: JSON objects followed by a
// line feed, or back to back, or separated by any JSON whitespace.
//
// A message is the bytes from its opening '{' to its closing '}'. It may
// hold no raw line feed (GMP.md, Framing): a line feed inside an
// unfinished object ends it as a truncated message (ErrBadJSON) at once,
// instead of waiting for a close that may never come.
//
// Memory: the buffer starts at 4 KiB, grows to hold one message of at most
// the limit, and shrinks back after it. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	r          io.Reader
	buf        []byte
	start, end int // buf[start:end] is read but not yet returned
	max        int
	rerr       error // a read error held back until the bytes before it are used
	err        error // sticky framing or read error

	// The message-begun deadline: armed when a message is incomplete in
	// the buffer and more must be read, cleared when it completes.
	timeout     time.Duration
	setDeadline func(time.Time) error
	deadlineSet bool

	// onBegin, when set, is called as each message begins; false means the
	// connection is being closed and the message must not be taken.
	onBegin func() bool
}

// NewDecoder reads messages of at most maxMessage bytes from r
// (maxMessage <= 0: DefaultMaxMessage).
func NewDecoder(r io.Reader, maxMessage int) *Decoder {
	if maxMessage <= 0 {
		maxMessage = DefaultMaxMessage
	}
	return &Decoder{r: r, max: maxMessage, buf: make([]byte, readBufferSize)}
}

// SetMessageTimeout arms the message-begun deadline: once the first byte of
// a message has arrived, the rest must arrive within timeout, else Next
// fails with ErrMessageTimeout. Waiting between messages is never bounded.
// setReadDeadline is the connection's SetReadDeadline.
func (d *Decoder) SetMessageTimeout(setReadDeadline func(time.Time) error, timeout time.Duration) {
	d.setDeadline, d.timeout = setReadDeadline, timeout
}

// Next returns the next message: the bytes of one valid JSON object. They
// are valid until the following call. At the end of the stream between
// messages it returns io.EOF; errors wrapping ErrBadJSON,
// ErrMessageTooLarge or ErrMessageTimeout mean the stream is broken.
func (d *Decoder) Next() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.shrink()
	// Between messages: skip whitespace, wait for a first byte as long as
	// it takes.
	for {
		d.start = wire.SkipSpace(d.buf[:d.end], d.start)
		if d.start < d.end {
			break
		}
		d.start, d.end = 0, 0
		if err := d.fill(false); err != nil {
			if err == io.EOF {
				return nil, d.fail(io.EOF)
			}
			return nil, d.fail(err)
		}
	}
	if d.onBegin != nil && !d.onBegin() {
		return nil, d.fail(errConnClosing)
	}
	if c := d.buf[d.start]; c != '{' {
		return nil, d.fail(fmt.Errorf("%w: a message is a JSON object, and this begins with %s", ErrBadJSON, wire.DescribeByte(c)))
	}

	// Find the object's end: track strings and nesting; wire.Valid checks
	// the rest once the extent is known.
	i := d.start + 1
	depth, inString, escaped := 1, false, false
	for {
		// Only the first max bytes are looked at, so the error a stream
		// gets does not depend on how its bytes arrive.
		stop := min(d.end, d.start+d.max)
		for ; i < stop; i++ {
			c := d.buf[i]
			if inString {
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				case c < 0x20:
					return nil, d.fail(fmt.Errorf("%w: raw control character 0x%02x in a string", ErrBadJSON, c))
				}
				continue
			}
			switch c {
			case '"':
				inString = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return d.complete(i + 1)
				}
			case '\n':
				return nil, d.fail(fmt.Errorf("%w: line feed inside an unfinished object (truncated message)", ErrBadJSON))
			}
		}
		if i-d.start >= d.max {
			return nil, d.fail(fmt.Errorf("%w: more than %d bytes", ErrMessageTooLarge, d.max))
		}
		off := i - d.start
		if err := d.fill(true); err != nil {
			switch {
			case err == io.EOF:
				err = fmt.Errorf("%w: the stream ended inside a message (truncated message)", ErrBadJSON)
			case errors.Is(err, os.ErrDeadlineExceeded):
				err = fmt.Errorf("%w: %v after its first byte", ErrMessageTimeout, d.timeout)
			}
			return nil, d.fail(err)
		}
		i = d.start + off
	}
}

// complete hands out buf[start:end] as a message once it is known whole.
func (d *Decoder) complete(end int) ([]byte, error) {
	msg := d.buf[d.start:end]
	if !wire.Valid(msg) {
		return nil, d.fail(fmt.Errorf("%w: invalid JSON", ErrBadJSON))
	}
	d.start = end
	if d.deadlineSet {
		d.deadlineSet = false
		if err := d.setDeadline(time.Time{}); err != nil {
			return nil, d.fail(err)
		}
	}
	return msg, nil
}

// fill reads more bytes after buf[end], making room first. begun says a
// message is in progress, which arms the message deadline.
func (d *Decoder) fill(begun bool) error {
	if d.rerr != nil {
		return d.rerr
	}
	if d.start > 0 {
		d.end = copy(d.buf, d.buf[d.start:d.end])
		d.start = 0
	}
	if d.end == len(d.buf) {
		size := 2 * len(d.buf)
		if limit := d.max + readBufferSize; size > limit {
			size = limit
		}
		nb := make([]byte, size)
		copy(nb, d.buf[:d.end])
		d.buf = nb
	}
	if begun && d.timeout > 0 && d.setDeadline != nil && !d.deadlineSet {
		if err := d.setDeadline(time.Now().Add(d.timeout)); err != nil {
			return err
		}
		d.deadlineSet = true
	}
	for {
		n, err := d.r.Read(d.buf[d.end:])
		d.end += n
		if n > 0 {
			d.rerr = err
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// shrink gives back a buffer that grew for a large message.
func (d *Decoder) shrink() {
	if len(d.buf) <= keepBufferSize || d.end-d.start > readBufferSize {
		return
	}
	nb := make([]byte, readBufferSize)
	d.end = copy(nb, d.buf[d.start:d.end])
	d.start = 0
	d.buf = nb
}

func (d *Decoder) fail(err error) error {
	d.err = err
	return err
}

// requestError is a request GPMD answers with an error reply; the
// connection goes on unless the code closes it.
type requestError struct {
	code string // ErrCode*
	msg  string
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{code: wire.ErrCodeBadRequest, msg: fmt.Sprintf(format, args...)}
}

// envelopeKeys are the envelope's members, in the order parseEnvelope
// reads them.
var envelopeKeys = [4]string{"type", "code", "id", "body"}

// envelope is a parsed request.
type envelope struct {
	typ, code int64
	id        []byte // raw JSON string or integer, copied verbatim; nil if absent
	body      []byte // a valid JSON object; nil if absent or null
}

// parseEnvelope checks the envelope of a valid JSON object (from Next):
// type and code integers, id a string or integer, body an object or a
// string that holds one. Any other shape is bad_request. Unknown fields are
// ignored. On error, env.id is set when the id itself was valid, so the
// error reply can carry it.
func parseEnvelope(msg []byte) (env envelope, rerr *requestError) {
	var m [4][]byte
	wire.LastMembers(msg, envelopeKeys[:], m[:])
	typ, code, id, body := m[0], m[1], m[2], m[3]
	if id != nil {
		_, isInt := wire.DecodeInt(id)
		switch {
		case isInt:
			env.id = id
		case id[0] == '"' && utf8.Valid(id):
			env.id = id
		case id[0] == '"':
			// json.Valid lets invalid UTF-8 through inside strings; echoed
			// raw, it would make the reply invalid JSON text (RFC 8259).
			return env, badRequest("id must be valid UTF-8")
		default:
			return env, badRequest("id must be a string or an integer")
		}
	}
	var ok bool
	if typ == nil {
		return env, badRequest("type is required")
	}
	if env.typ, ok = wire.DecodeInt(typ); !ok {
		return env, badRequest("type must be an integer")
	}
	if code == nil {
		return env, badRequest("code is required")
	}
	if env.code, ok = wire.DecodeInt(code); !ok {
		return env, badRequest("code must be an integer")
	}
	if body == nil {
		return env, nil
	}
	switch body[0] {
	case '{':
		env.body = body
	case '"':
		// The early encoding: a string holding a JSON object.
		s, _ := wire.DecodeString(body)
		inner := []byte(s)
		if i := wire.SkipSpace(inner, 0); !wire.Valid(inner) || i >= len(inner) || inner[i] != '{' {
			return env, badRequest("body is a string that does not hold a JSON object")
		}
		env.body = inner
	default:
		return env, badRequest("body must be an object")
	}
	return env, nil
}

// encoder writes one connection's replies. mu serialises writes so that
// replies never interleave; every write carries its own deadline, so a peer
// that stops reading fails the write instead of holding the reply's memory.
type encoder struct {
	mu      sync.Mutex // guards conn writes and buf
	conn    deadlineWriter
	timeout time.Duration
	buf     []byte // reused for small replies
	// replyBy, when set, is the deadline of the whole reply being written
	// (Config.ReplyTimeout): no write of it may go on past it, however
	// steadily the peer reads.
	replyBy time.Time
	// final is set once the connection's last reply is on its way: no
	// event may follow it.
	final bool

	// raw is the connection's socket, for writeSmallLocked; nil when the
	// connection is not one (net.Pipe in tests): every write then goes
	// through writeLocked.
	raw syscall.RawConn
	// armed: a write deadline set by writeLocked may still be on conn.
	// writeSmallLocked clears it before writing without one, since a
	// deadline that has passed fails every later write at once.
	armed bool
	// rawWrite is e.rawStep, bound once (useRaw) so that a write
	// allocates nothing; pending and rawErr are its argument and result.
	rawWrite func(fd uintptr) bool
	pending  []byte
	rawErr   error
}

// useRaw makes writeSmallLocked write to raw, nc's socket (nil: never).
func (e *encoder) useRaw(raw syscall.RawConn) {
	if raw != nil {
		e.raw, e.rawWrite = raw, e.rawStep
	}
}

// deadlineWriter is what the encoder needs of a connection.
type deadlineWriter interface {
	io.Writer
	SetWriteDeadline(time.Time) error
}

// writeLocked writes b with a fresh deadline: the write timeout, or the
// reply's deadline where that comes first. e.mu must be held.
func (e *encoder) writeLocked(b []byte) error {
	var d time.Time
	if e.timeout > 0 {
		d = time.Now().Add(e.timeout)
	}
	if !e.replyBy.IsZero() && (d.IsZero() || e.replyBy.Before(d)) {
		d = e.replyBy
	}
	if !d.IsZero() {
		if err := e.conn.SetWriteDeadline(d); err != nil {
			return err
		}
		e.armed = true
	}
	_, err := e.conn.Write(b)
	return err
}

// writeSmallLocked writes a small reply (GMP's replies but MODULE and the
// fleet's NODES: a few hundred bytes, which the socket's buffer takes at
// once unless the peer has stopped reading) under the write timeout, as
// writeLocked does, but arms the deadline only when the write has to wait:
// setting it costs a clock read and a runtime timer update (0.2 µs, a few
// per cent of a DISCOVER's or CONNECT's server CPU; BenchmarkSmallReply).
// The wait is bounded by the write timeout from the moment it begins.
// e.mu must be held.
func (e *encoder) writeSmallLocked(b []byte) error {
	if e.rawWrite == nil || e.timeout <= 0 || !e.replyBy.IsZero() {
		return e.writeLocked(b)
	}
	if e.armed {
		if err := e.conn.SetWriteDeadline(time.Time{}); err != nil {
			return err
		}
		e.armed = false
	}
	e.pending, e.rawErr = b, nil
	err := e.raw.Write(e.rawWrite)
	e.pending = nil
	if e.rawErr != nil {
		return e.rawErr
	}
	return err
}

// rawStep writes e.pending to the socket fd as far as the kernel takes it
// at once; false asks e.raw.Write to wait until fd is writable and call
// again, under the write timeout, which it arms before the first wait.
// e.mu must be held.
func (e *encoder) rawStep(fd uintptr) bool {
	var done bool
	e.pending, done, e.rawErr = writeNonblock(fd, e.pending)
	if done || e.rawErr != nil {
		return true
	}
	if !e.armed {
		if e.rawErr = e.conn.SetWriteDeadline(time.Now().Add(e.timeout)); e.rawErr != nil {
			return true
		}
		e.armed = true
	}
	return false
}

// replyLast writes a reply after which the connection closes (an ERROR
// that ends it): no event is written after it.
func (e *encoder) replyLast(typ, code int, id []byte, appendBody func([]byte) []byte) error {
	e.mu.Lock()
	e.final = true
	e.mu.Unlock()
	return e.reply(typ, code, id, appendBody)
}

// reply writes one reply: the envelope with id copied verbatim and the body
// produced by appendBody.
func (e *encoder) reply(typ, code int, id []byte, appendBody func([]byte) []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := wire.AppendHeader(e.buf[:0], typ, code, id)
	b = appendBody(b)
	b = append(b, '}', '\n')
	err := e.writeSmallLocked(b)
	if cap(b) <= keepBufferSize {
		e.buf = b[:0]
	}
	return err
}

// appendErrorBody appends {"error":code,"message":msg}.
func appendErrorBody(b []byte, code, msg string) []byte {
	b = append(b, `{"error":`...)
	b = wire.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = wire.AppendString(b, msg)
	return append(b, '}')
}

func appendNodeBody(b []byte, n wire.Node) []byte {
	b = append(b, `{"name":`...)
	b = wire.AppendString(b, n.Name)
	b = append(b, `,"id":`...)
	b = wire.AppendString(b, n.ID)
	b = append(b, `,"address":`...)
	b = wire.AppendString(b, n.Address)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(n.Port), 10)
	if n.Device != "" {
		b = append(b, `,"device":`...)
		b = wire.AppendString(b, n.Device)
	}
	return append(b, '}')
}

func appendNodesBody(b []byte, names []string) []byte {
	b = append(b, `{"nodes":`...)
	b = appendStrings(b, names)
	return append(b, '}')
}

func appendWelcomeBody(b []byte, w wire.Welcome) []byte {
	b = append(b, `{"server":`...)
	b = wire.AppendString(b, w.Server)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(w.Version), 10)
	b = append(b, `,"max_message":`...)
	b = strconv.AppendInt(b, int64(w.MaxMessage), 10)
	if w.Features != nil {
		b = append(b, `,"features":`...)
		b = appendStrings(b, w.Features)
	}
	return append(b, '}')
}

// appendStrings appends a JSON array of strings.
func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, s)
	}
	return append(b, ']')
}

func appendModulesBody(b []byte, mods []wire.ModuleEntry) []byte {
	b = append(b, `{"modules":[`...)
	for i, m := range mods {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, m.Name)
		b = append(b, `,"versions":[`...)
		for j, v := range m.Versions {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"version":`...)
			b = wire.AppendString(b, v.Version)
			b = append(b, `,"hash":`...)
			b = wire.AppendString(b, v.Hash)
			b = append(b, `,"size":`...)
			b = strconv.AppendInt(b, v.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']', '}')
	}
	return append(b, ']', '}')
}

// appendModuleInfoBody appends a MODULE body without its binary (the
// answer to a `have` that matches).
func appendModuleInfoBody(b []byte, m wire.ModuleInfo) []byte {
	return append(appendModuleFields(b, m), '}')
}

// appendModulePrefix appends a MODULE reply up to the opening quote of its
// binary; the base64 and moduleSuffix follow.
func appendModulePrefix(b []byte, id []byte, m wire.ModuleInfo) []byte {
	b = wire.AppendHeader(b, wire.TypeWasm, wire.CodeModule, id)
	b = appendModuleFields(b, m)
	return append(b, `,"binary":"`...)
}

// appendModuleFields appends a MODULE body's opening brace and its fields
// but the binary.
func appendModuleFields(b []byte, m wire.ModuleInfo) []byte {
	b = append(b, `{"name":`...)
	b = wire.AppendString(b, m.Name)
	b = append(b, `,"version":`...)
	b = wire.AppendString(b, m.Version)
	b = append(b, `,"hash":`...)
	b = wire.AppendString(b, m.Hash)
	b = append(b, `,"size":`...)
	return strconv.AppendInt(b, m.Size, 10)
}

// moduleSuffix closes the binary string, the body and the message.
const moduleSuffix = "\"}}\n"

func appendUint(b []byte, v uint64) []byte { return strconv.AppendUint(b, v, 10) }
