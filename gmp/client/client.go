package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Client defaults.
const (
	// DefaultMaxReply bounds a reply the client keeps in memory (everything
	// but the binary of a MODULE, which streams to the caller's writer).
	DefaultMaxReply = 64 << 20
	// DefaultWriteTimeout bounds the write of one request.
	DefaultWriteTimeout = 30 * time.Second

	// readBufferSize is the client's read buffer: large, because a MODULE
	// reply streams through it.
	readBufferSize = 64 << 10
	// keepBufferSize is the largest request buffer kept between requests.
	keepBufferSize = 64 << 10
)

// Client errors, tested with errors.Is. Replies that carry data come as
// typed errors: *DeniedError and *ProtocolError.
var (
	// ErrNotFound: NOT_FOUND (CONNECT) or MODULE_NOT_FOUND (MODULE_REQUEST).
	// It is errdefs.ErrNotFound, the class every GPMD package uses, so
	// errors.Is(err, errdefs.ErrNotFound) holds too.
	ErrNotFound = errdefs.ErrNotFound
	// ErrClosed: the connection is closed (by Close, by GPMD, or after a
	// failure, which the error wraps too).
	ErrClosed = errors.New("gmp: connection closed")
	// ErrHashMismatch: the module bytes received do not match the hash or
	// the size in their MODULE reply.
	ErrHashMismatch = errors.New("gmp: module bytes do not match their hash")
	// ErrBadReply: GPMD's reply broke the contract (not JSON, an id that
	// answers no request, a reply of the wrong kind).
	ErrBadReply = errors.New("gmp: malformed reply")
	// ErrReplyTooLarge: a reply past ClientOptions.MaxReply, or a module
	// past ClientOptions.MaxModule.
	ErrReplyTooLarge = errors.New("gmp: reply too large")
)

// DeniedError is a REGISTER_DENIED reply.
type DeniedError struct {
	Code    string // wire.ErrCodeNameTaken, wire.ErrCodeAlreadyRegistered or wire.ErrCodeBadRequest
	Message string
}

func (e *DeniedError) Error() string {
	return "gmp: register denied: " + e.Code + ": " + e.Message
}

// ProtocolError is an ERROR reply.
type ProtocolError struct {
	Code    string // one of the ErrCode* session codes
	Message string
}

func (e *ProtocolError) Error() string { return "gmp: " + e.Code + ": " + e.Message }

// ClientOptions configure a Client. Zero values take defaults.
type ClientOptions struct {
	// Dialer dials for Dial; nil: a net.Dialer with default settings.
	Dialer *net.Dialer
	// MaxReply bounds the bytes of one reply held in memory; a MODULE's
	// binary is not held and does not count (default DefaultMaxReply).
	MaxReply int
	// MaxModule bounds the bytes of one module (default: no bound beyond
	// what the writer takes).
	MaxModule int64
	// WriteTimeout bounds the write of one request (default
	// DefaultWriteTimeout).
	WriteTimeout time.Duration
}

// Client is a GMP connection to GPMD. It is safe for concurrent use: calls
// from many goroutines are pipelined on the one connection, and each reply
// is matched to its request by id (GPMD answers in request order, which the
// client checks).
//
// A node's registration lives as long as this connection: Close ends it.
// Done is closed when the connection ends for any reason.
type Client struct {
	conn net.Conn
	opts ClientOptions

	// wmu serialises writes; a request joins pending under wmu too, so the
	// order of pending is the order on the wire.
	wmu    sync.Mutex
	nextID int64
	wbuf   []byte

	// mu guards pending and err.
	mu      sync.Mutex
	pending []*call // written, not yet answered, in wire order
	err     error   // why the connection ended; set once

	done chan struct{} // closed when the reading goroutine ends

	// evq holds the EVENT messages received (events.go); made at the
	// first Subscribe, read by Subscription.Next.
	evMu sync.Mutex // guards evq's creation
	evq  *eventQueue
}

// call is one request waiting for its reply.
type call struct {
	id   int64
	sink *moduleSink // MODULE_REQUEST only: where the binary streams to
	res  chan reply  // buffered: the reader never blocks on it
}

// reply is a reply as the reading goroutine hands it to its caller.
type reply struct {
	typ, code int64
	body      []byte // the body object (for a MODULE, its fields but the binary)
	streamed  bool   // a binary was streamed into the call's sink
	err       error
}

// Dial connects to GPMD at addr.
func Dial(ctx context.Context, addr string, opts ClientOptions) (*Client, error) {
	d := opts.Dialer
	if d == nil {
		d = &net.Dialer{}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("gmp: dial %s: %w", addr, err)
	}
	return NewClient(nc, opts), nil
}

// NewClient speaks GMP over an open connection, which the Client then owns.
func NewClient(nc net.Conn, opts ClientOptions) *Client {
	if opts.MaxReply <= 0 {
		opts.MaxReply = DefaultMaxReply
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	c := &Client{conn: nc, opts: opts, done: make(chan struct{})}
	go c.readLoop(bufio.NewReaderSize(nc, readBufferSize))
	return c
}

// Close closes the connection (ending the node's registration) and waits
// for the reading goroutine. Calls in progress fail with ErrClosed.
// Closing twice is harmless.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended, or nil while it is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Hello sends HELLO offering version 1 and returns WELCOME. GMP does not
// require it; a GPMD that does not speak version 1 answers
// unsupported_version (a *ProtocolError) and closes the connection.
func (c *Client) Hello(ctx context.Context, client string) (wire.Welcome, error) {
	r, err := c.roundTrip(ctx, wire.TypeSession, wire.CodeHello, func(b []byte) []byte {
		b = append(b, `{"client":`...)
		b = wire.AppendString(b, client)
		return append(b, `,"versions":[1]}`...)
	}, nil)
	var w wire.Welcome
	if err == nil {
		err = r.decode(wire.TypeSession, wire.CodeWelcome, &w)
	}
	return w, err
}

// Ping sends PING and waits for PONG.
func (c *Client) Ping(ctx context.Context) error {
	r, err := c.roundTrip(ctx, wire.TypeSession, wire.CodePing, wire.EmptyBody, nil)
	if err == nil {
		err = r.decode(wire.TypeSession, wire.CodePong, nil)
	}
	return err
}

// Register registers this connection's node. GPMD sets the address: the
// IP the connection comes from. A denial is a *DeniedError.
func (c *Client) Register(ctx context.Context, name, id string, port int, discoverable bool) (wire.Node, error) {
	r, err := c.roundTrip(ctx, wire.TypeNode, wire.CodeRegister, func(b []byte) []byte {
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, name)
		b = append(b, `,"id":`...)
		b = wire.AppendString(b, id)
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(port), 10)
		b = append(b, `,"discoverable":`...)
		b = strconv.AppendBool(b, discoverable)
		return append(b, '}')
	}, nil)
	var n wire.Node
	if err != nil {
		return n, err
	}
	if r.is(wire.TypeNode, wire.CodeRegisterDenied) {
		var e struct{ Error, Message string }
		if err := json.Unmarshal(r.body, &e); err != nil {
			return n, fmt.Errorf("%w: REGISTER_DENIED body: %v", ErrBadReply, err)
		}
		return n, &DeniedError{Code: e.Error, Message: e.Message}
	}
	return n, r.decode(wire.TypeNode, wire.CodeRegistered, &n)
}

// Unregister ends this connection's registration (the connection stays
// open). Unregistering with no registration is not an error.
func (c *Client) Unregister(ctx context.Context) error {
	r, err := c.roundTrip(ctx, wire.TypeNode, wire.CodeUnregister, wire.EmptyBody, nil)
	if err == nil {
		err = r.decode(wire.TypeNode, wire.CodeUnregistered, nil)
	}
	return err
}

// Discover returns the names of the discoverable live nodes, sorted.
func (c *Client) Discover(ctx context.Context) ([]string, error) {
	r, err := c.roundTrip(ctx, wire.TypeNode, wire.CodeDiscover, wire.EmptyBody, nil)
	var body struct {
		Nodes []string `json:"nodes"`
	}
	if err == nil {
		err = r.decode(wire.TypeNode, wire.CodeNodes, &body)
	}
	return body.Nodes, err
}

// Connect returns the connection details of the live node called name;
// an error wrapping ErrNotFound where none is live. name may be
// name@device (feature "fleet"): a node of another device of the fleet,
// whose NODE carries Device; while the fleet is unreachable the error's
// message says so.
func (c *Client) Connect(ctx context.Context, name string) (wire.Node, error) {
	r, err := c.roundTrip(ctx, wire.TypeNode, wire.CodeConnect, func(b []byte) []byte {
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, name)
		return append(b, '}')
	}, nil)
	var n wire.Node
	if err != nil {
		return n, err
	}
	if r.is(wire.TypeNode, wire.CodeNotFound) {
		return n, r.notFound()
	}
	return n, r.decode(wire.TypeNode, wire.CodeNode, &n)
}

// List lists the modules GPMD holds (name "" for all): names in order,
// versions highest first.
func (c *Client) List(ctx context.Context, name string) ([]wire.ModuleEntry, error) {
	r, err := c.roundTrip(ctx, wire.TypeWasm, wire.CodeList, func(b []byte) []byte {
		if name == "" {
			return append(b, '{', '}')
		}
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, name)
		return append(b, '}')
	}, nil)
	var body struct {
		Modules []wire.ModuleEntry `json:"modules"`
	}
	if err == nil {
		err = r.decode(wire.TypeWasm, wire.CodeModules, &body)
	}
	return body.Modules, err
}

// Module fetches a module and writes its bytes to w as they arrive,
// decoding the base64 on the fly: the reply is never held whole. version
// is "" (latest), an exact version or a constraint.
//
// The bytes are hashed while they stream; Module fails with an error
// wrapping ErrHashMismatch where they do not match the reply's hash or
// size. Bytes written to w before an error must be discarded: they are
// only known good once Module returns nil. w is called from the client's
// reading goroutine and must not block forever; after Module returns
// (cancelled or not) w is never called again.
func (c *Client) Module(ctx context.Context, name, version string, w io.Writer) (wire.ModuleInfo, error) {
	info, _, err := c.module(ctx, name, version, "", w)
	return info, err
}

// ModuleHave is Module offering have, the digest ("sha256:<64 hex>") of
// bytes the caller already holds (GMP.md, `have`; check WELCOME's
// features for wire.FeatureHave). When the version GPMD resolves has that
// hash, GPMD sends no binary: held is true and nothing is written to w.
// Otherwise it is Module. A GPMD without the feature ignores have and
// sends the binary, which is as correct. A malformed have is a
// *ProtocolError bad_request.
func (c *Client) ModuleHave(ctx context.Context, name, version, have string, w io.Writer) (info wire.ModuleInfo, held bool, err error) {
	return c.module(ctx, name, version, have, w)
}

func (c *Client) module(ctx context.Context, name, version, have string, w io.Writer) (wire.ModuleInfo, bool, error) {
	sink := newModuleSink(w, c.opts.MaxModule)
	r, err := c.roundTrip(ctx, wire.TypeWasm, wire.CodeModuleRequest, func(b []byte) []byte {
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, name)
		b = append(b, `,"version":`...)
		b = wire.AppendString(b, version)
		if have != "" {
			b = append(b, `,"have":`...)
			b = wire.AppendString(b, have)
		}
		return append(b, '}')
	}, sink)
	var info wire.ModuleInfo
	if err != nil {
		return info, false, err
	}
	if r.is(wire.TypeWasm, wire.CodeModuleNotFound) {
		return info, false, r.notFound()
	}
	if err := r.decode(wire.TypeWasm, wire.CodeModule, &info); err != nil {
		return info, false, err
	}
	if !r.streamed {
		if have != "" && info.Hash == have {
			return info, true, nil
		}
		return info, false, fmt.Errorf("%w: MODULE without a binary string", ErrBadReply)
	}
	return info, false, sink.verify(info)
}

// ModuleInfo asks what GPMD recorded of a module version at upload
// (MODULE_INFO_REQUEST, feature module_info: check Welcome.Features):
// kind, imports and exports with their types. version resolves as for
// Module. A missing module or version wraps ErrNotFound.
func (c *Client) ModuleInfo(ctx context.Context, name, version string) (wire.ModuleDetails, error) {
	r, err := c.roundTrip(ctx, wire.TypeWasm, wire.CodeModuleInfoRequest, moduleQueryBody(name, version), nil)
	var d wire.ModuleDetails
	if err != nil {
		return d, err
	}
	if r.is(wire.TypeWasm, wire.CodeModuleNotFound) {
		return d, r.notFound()
	}
	return d, r.decode(wire.TypeWasm, wire.CodeModuleInfo, &d)
}

// ModuleBytes fetches a module into memory (see Module).
func (c *Client) ModuleBytes(ctx context.Context, name, version string) (wire.ModuleInfo, []byte, error) {
	var buf bytes.Buffer
	info, err := c.Module(ctx, name, version, &buf)
	if err != nil {
		return info, nil, err
	}
	return info, buf.Bytes(), nil
}

// moduleQueryBody is the body of MODULE_REQUEST and MODULE_INFO_REQUEST.
func moduleQueryBody(name, version string) func([]byte) []byte {
	return func(b []byte) []byte {
		b = append(b, `{"name":`...)
		b = wire.AppendString(b, name)
		b = append(b, `,"version":`...)
		b = wire.AppendString(b, version)
		return append(b, '}')
	}
}

// roundTrip writes one request and waits for its reply. ctx bounds the
// wait; a request already written is answered anyway, and its reply is
// dropped. The write itself is bounded by WriteTimeout, not by ctx:
// abandoning a half-written request would break the stream for every
// other caller.
func (c *Client) roundTrip(ctx context.Context, typ, code int, body func([]byte) []byte, sink *moduleSink) (reply, error) {
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	cl := &call{sink: sink, res: make(chan reply, 1)}

	c.wmu.Lock()
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return reply{}, err
	}
	c.nextID++
	cl.id = c.nextID
	c.pending = append(c.pending, cl)
	c.mu.Unlock()

	b := wire.AppendHeader(c.wbuf[:0], typ, code, strconv.AppendInt(nil, cl.id, 10))
	b = body(b)
	b = append(b, '}', '\n')
	err := c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err == nil {
		_, err = c.conn.Write(b)
	}
	if cap(b) <= keepBufferSize {
		c.wbuf = b[:0]
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("%w: writing a request: %v", ErrClosed, err))
	}

	select {
	case r := <-cl.res:
		return r, r.err
	case <-ctx.Done():
		if sink != nil {
			sink.abandon()
		}
		return reply{}, ctx.Err()
	}
}

// fail ends the connection with err (the first error wins) and fails every
// waiting call.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		if !errors.Is(err, ErrClosed) {
			err = fmt.Errorf("%w: %w", ErrClosed, err)
		}
		c.err = err
	}
	pending := c.pending
	c.pending = nil
	err = c.err
	c.mu.Unlock()
	c.conn.Close()
	if q := c.eventQueue(false); q != nil {
		q.end(err)
	}
	for _, cl := range pending {
		cl.res <- reply{err: err}
	}
}

// head is the call the next reply answers.
func (c *Client) head() *call {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	return c.pending[0]
}

func (c *Client) readLoop(br *bufio.Reader) {
	defer close(c.done)
	rr := replyReader{br: br, max: c.opts.MaxReply}
	for {
		m, err := rr.read(c.head)
		if err != nil {
			if isEOF(err) || errors.Is(err, net.ErrClosed) {
				c.fail(ErrClosed)
			} else {
				c.fail(err)
			}
			return
		}
		if err := c.dispatch(m); err != nil {
			c.fail(err)
			return
		}
	}
}

// dispatch hands a reply to the call it answers: the oldest waiting one,
// whose id it must carry. An ERROR without id (bad_json, busy …) ends the
// connection, GPMD closes it anyway.
func (c *Client) dispatch(m *rawReply) error {
	typ, ok1 := wire.DecodeInt(m.typ)
	code, ok2 := wire.DecodeInt(m.code)
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: type and code must be integers", ErrBadReply)
	}
	r := reply{typ: typ, code: code, body: m.body, streamed: m.streamed}
	c.mu.Lock()
	defer c.mu.Unlock()
	var cl *call
	if len(c.pending) > 0 {
		cl = c.pending[0]
	}
	switch {
	case m.id == nil && r.is(wire.TypeEvent, wire.CodeEvent):
		// Events carry no id and answer no request (GMP.md, Events).
		return c.deliverEvent(m.body)
	case m.id == nil && r.is(wire.TypeSession, wire.CodeError):
		perr := r.protocolError()
		if cl != nil {
			// The waiting caller gets the ERROR itself; the others get
			// the connection's end.
			c.pending = c.pending[1:]
			cl.res <- reply{err: perr}
		}
		return perr
	case m.id == nil:
		return fmt.Errorf("%w: a reply without id (type %d code %d)", ErrBadReply, typ, code)
	case cl == nil || string(m.id) != strconv.FormatInt(cl.id, 10):
		return fmt.Errorf("%w: reply id %s answers no request in order", ErrBadReply, m.id)
	}
	c.pending = c.pending[1:]
	cl.res <- r
	return nil
}

func (r reply) is(typ, code int) bool { return r.typ == int64(typ) && r.code == int64(code) }

// decode checks the reply is (typ, code) and decodes its body into out; an
// ERROR becomes a *ProtocolError.
func (r reply) decode(typ, code int, out any) error {
	if r.is(wire.TypeSession, wire.CodeError) {
		return r.protocolError()
	}
	if !r.is(typ, code) {
		return fmt.Errorf("%w: got type %d code %d, expected type %d code %d", ErrBadReply, r.typ, r.code, typ, code)
	}
	if out == nil || r.body == nil {
		return nil
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		return fmt.Errorf("%w: type %d code %d body: %v", ErrBadReply, typ, code, err)
	}
	return nil
}

func (r reply) protocolError() error {
	var e struct{ Error, Message string }
	if r.body != nil {
		if err := json.Unmarshal(r.body, &e); err != nil {
			return fmt.Errorf("%w: ERROR body: %v", ErrBadReply, err)
		}
	}
	return &ProtocolError{Code: e.Error, Message: e.Message}
}

func (r reply) notFound() error {
	var e struct{ Error, Message string }
	json.Unmarshal(r.body, &e) // the message is only for people
	if e.Message == "" {
		return fmt.Errorf("gmp: %w", ErrNotFound)
	}
	return fmt.Errorf("gmp: %s: %w", e.Message, ErrNotFound)
}

// moduleSink decodes a MODULE's base64 as it streams, hashes the bytes and
// writes them to the caller's writer.
type moduleSink struct {
	// mu guards dst and abandoned: the caller sets abandoned when it stops
	// waiting, after which dst is never written again.
	mu        sync.Mutex
	dst       io.Writer
	abandoned bool

	limit  int64
	h      hash.Hash
	n      int64 // bytes decoded
	quad   [4]byte
	nq     int  // base64 characters held in quad
	padded bool // the last quantum (with padding) was seen
	out    []byte
	werr   error // the writer's first error
	derr   error // a decoding error
}

func newModuleSink(dst io.Writer, limit int64) *moduleSink {
	return &moduleSink{dst: dst, limit: limit, h: sha256.New(), out: make([]byte, 48<<10)}
}

func (s *moduleSink) abandon() {
	s.mu.Lock()
	s.abandoned = true
	s.mu.Unlock()
}

// feed takes base64 characters of the binary, in order. It never keeps p.
func (s *moduleSink) feed(p []byte) {
	if s.derr != nil {
		return
	}
	if s.nq > 0 {
		k := copy(s.quad[s.nq:], p)
		s.nq += k
		p = p[k:]
		if s.nq < 4 {
			return
		}
		s.nq = 0
		s.decode(s.quad[:])
	}
	for len(p) >= 4 && s.derr == nil {
		k := min(len(p)&^3, len(s.out)/3*4)
		s.decode(p[:k])
		p = p[k:]
	}
	s.nq = copy(s.quad[:], p)
}

// decode decodes whole base64 quanta.
func (s *moduleSink) decode(q []byte) {
	if s.padded {
		s.derr = errors.New("base64 goes on after its padding")
		return
	}
	// The decoder skips CR and LF; in a JSON string they would be bytes
	// GPMD never sends, so they are refused rather than skipped.
	if bytes.IndexByte(q, '\n') >= 0 || bytes.IndexByte(q, '\r') >= 0 {
		s.derr = errors.New("line break inside base64")
		return
	}
	n, err := base64.StdEncoding.Decode(s.out, q)
	if err != nil {
		s.derr = fmt.Errorf("bad base64: %v", err)
		return
	}
	if n < len(q)/4*3 {
		s.padded = true
	}
	s.n += int64(n)
	if s.limit > 0 && s.n > s.limit {
		s.derr = fmt.Errorf("%w: module larger than %d bytes", ErrReplyTooLarge, s.limit)
		return
	}
	s.h.Write(s.out[:n])
	s.mu.Lock()
	if !s.abandoned && s.werr == nil {
		if _, err := s.dst.Write(s.out[:n]); err != nil {
			s.werr = err
		}
	}
	s.mu.Unlock()
}

// end is called at the closing quote of the binary.
func (s *moduleSink) end() {
	if s.derr == nil && s.nq != 0 {
		s.derr = errors.New("base64 length is not a multiple of 4")
	}
}

// verify checks the streamed bytes against the MODULE's hash and size.
func (s *moduleSink) verify(info wire.ModuleInfo) error {
	if s.derr != nil {
		return fmt.Errorf("gmp: module %s %s: %w", info.Name, info.Version, s.derr)
	}
	if s.werr != nil {
		return fmt.Errorf("gmp: module %s %s: writing: %w", info.Name, info.Version, s.werr)
	}
	got := "sha256:" + hex.EncodeToString(s.h.Sum(nil))
	if got != info.Hash || s.n != info.Size {
		return fmt.Errorf("%w: module %s %s: got %d bytes hashing to %s, the reply says %d bytes, %s",
			ErrHashMismatch, info.Name, info.Version, s.n, got, info.Size, info.Hash)
	}
	return nil
}
