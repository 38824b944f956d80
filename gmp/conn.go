package gmp

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Connection states, for Shutdown: an idle connection waits for the first
// byte of a request and may be closed at once; an active one is reading or
// answering a request and closes itself when done.
const (
	stateIdle int32 = iota
	stateActive
	stateClosing
)

// closeReason records why a connection ended (logged at debug).
type closeReason int32

const (
	reasonNone closeReason = iota
	reasonPeerClosed
	reasonReadError
	reasonWriteError
	reasonBadJSON
	reasonTooLarge
	reasonMessageTimeout
	reasonUnsupportedVersion
	reasonBusy
	reasonModuleStream
	reasonReplyTimeout
	reasonShutdown
	reasonServerClosed
	reasonPanic
)

func (r closeReason) String() string {
	switch r {
	case reasonPeerClosed:
		return "peer closed"
	case reasonReadError:
		return "read error"
	case reasonWriteError:
		return "write error"
	case reasonBadJSON:
		return "bad json"
	case reasonTooLarge:
		return "message too large"
	case reasonMessageTimeout:
		return "message timeout"
	case reasonUnsupportedVersion:
		return "unsupported version"
	case reasonBusy:
		return "busy"
	case reasonModuleStream:
		return "module stream failed"
	case reasonReplyTimeout:
		return "reply timeout"
	case reasonShutdown:
		return "server shutdown"
	case reasonServerClosed:
		return "server closed"
	case reasonPanic:
		return "panic"
	}
	return "unknown"
}

// conn is one GMP connection. Its requests are handled one after another
// by its own goroutine, so replies leave in request order.
type conn struct {
	s      *Server
	nc     net.Conn
	remote string // the peer's IP address
	dec    *Decoder
	enc    encoder

	state     atomic.Int32 // stateIdle, stateActive or stateClosing
	reason    atomic.Int32 // the first closeReason recorded
	closeOnce sync.Once
	linger    bool  // close gently: the last reply is an ERROR the peer should read
	err       error // the error that ended the connection, for the log

	// node is this connection's registration. It is set by the serve
	// goroutine and taken (Swap to nil) by whoever ends the registration
	// first: UNREGISTER, or the close of the connection, which ends it
	// before the socket closes.
	node atomic.Pointer[registration]
	// nodeName is kept for the log once node is gone.
	nodeName string

	// sub is the connection's event subscription (nil until SUBSCRIBE),
	// set and read by the serve goroutine only; its events are written by
	// the pump goroutine (events.go), which ends when evStop closes.
	sub       *events.Subscription
	evStop    chan struct{}
	evStopped chan struct{}
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, remote: remoteIP(nc.RemoteAddr())}
	c.dec = NewDecoder(nc, s.cfg.MaxMessage)
	c.dec.SetMessageTimeout(nc.SetReadDeadline, s.cfg.MessageTimeout)
	c.dec.onBegin = c.begin
	c.enc = encoder{conn: nc, timeout: s.cfg.WriteTimeout}
	c.enc.useRaw(socketOf(nc))
	return c
}

// remoteIP is the IP address part of a peer's address.
func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip4 := ta.IP.To4(); ip4 != nil {
			return ip4.String()
		}
		return ta.IP.String()
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// begin marks the connection active as a request arrives; false when the
// server is already closing it.
func (c *conn) begin() bool {
	return c.state.CompareAndSwap(stateIdle, stateActive) || c.state.Load() == stateActive
}

// setReason records r unless a reason is already recorded.
func (c *conn) setReason(r closeReason) {
	c.reason.CompareAndSwap(int32(reasonNone), int32(r))
}

// unregister ends the connection's registration, if any; why goes to the
// log.
func (c *conn) unregister(why string) {
	if reg := c.node.Swap(nil); reg != nil {
		c.s.reg.unregister(reg, why)
	}
}

// leaveReason is why a registration ends with its connection, for the log.
func (c *conn) leaveReason() string {
	switch r := closeReason(c.reason.Load()); {
	case r == reasonShutdown || r == reasonServerClosed:
		return leftStopping
	case r.isProtocolError():
		return leftProtocol
	}
	return leftClosed
}

// isProtocolError reports whether the connection ended because the peer
// broke GMP (logged at warning with its reason).
func (r closeReason) isProtocolError() bool {
	switch r {
	case reasonBadJSON, reasonTooLarge, reasonMessageTimeout, reasonUnsupportedVersion:
		return true
	}
	return false
}

// close records r, ends the registration, and closes the socket at once
// (once).
func (c *conn) close(r closeReason) {
	c.setReason(r)
	c.unregister(c.leaveReason())
	c.closeOnce.Do(func() { c.nc.Close() })
}

func (c *conn) serve() {
	start := time.Now()
	defer func() {
		// The registration ends before the socket closes: a node seen
		// gone by its peer is already gone from DISCOVER.
		c.unregister(c.leaveReason())
		c.stopEvents()
		c.state.Store(stateClosing)
		if c.linger {
			// Outside closeOnce: Close must not wait for the drain; its
			// close of the socket ends the drain instead.
			drain(c.nc)
		}
		c.close(reasonNone)
		c.waitEvents()
		c.s.untrackConn(c)
		c.s.cfg.Observer.ConnClosed(closeReason(c.reason.Load()).String())
		if r := closeReason(c.reason.Load()); r.isProtocolError() {
			c.s.log.Warn("gmp connection closed for a protocol error", "remote", c.nc.RemoteAddr().String(), "node", c.nodeName,
				"reason", r.String(), "err", c.err)
		} else if c.s.log.Enabled(c.s.ctx, slog.LevelDebug) {
			c.s.log.Debug("gmp connection closed", "remote", c.nc.RemoteAddr().String(), "node", c.nodeName,
				"reason", closeReason(c.reason.Load()).String(), "err", c.err, "duration", time.Since(start))
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			c.s.panics.Add(1)
			c.setReason(reasonPanic)
			c.err = fmt.Errorf("panic: %v", p)
			c.s.log.Error("gmp: panic serving a connection", "remote", c.nc.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
		}
	}()

	for {
		msg, err := c.dec.Next()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.handle(msg) {
			return
		}
		c.state.CompareAndSwap(stateActive, stateIdle)
		if c.s.inShutdown.Load() {
			c.close(reasonShutdown)
			return
		}
	}
}

// readFailed answers a framing error as GMP.md says and records why the
// connection ends.
func (c *conn) readFailed(err error) {
	c.err = err
	switch {
	case errors.Is(err, ErrBadJSON):
		c.replyError(nil, wire.ErrCodeBadJSON, err.Error())
	case errors.Is(err, ErrMessageTooLarge):
		c.replyError(nil, wire.ErrCodeMessageTooLarge,
			"a message may hold at most "+strconv.Itoa(c.s.cfg.MaxMessage)+" bytes")
	case errors.Is(err, ErrMessageTimeout):
		// No ERROR code fits a peer that stalls; it is cut off.
		c.setReason(reasonMessageTimeout)
	case errors.Is(err, errConnClosing):
		// Shutdown or Close recorded the reason.
	case c.state.Load() == stateClosing:
		// Closed under the reader by Shutdown or Close.
	case errors.Is(err, net.ErrClosed):
		c.setReason(reasonServerClosed)
	default:
		if isEOF(err) {
			c.setReason(reasonPeerClosed)
			c.err = nil
		} else {
			c.setReason(reasonReadError)
		}
	}
}

// replyError sends ERROR code; it reports whether the connection goes on.
func (c *conn) replyError(id []byte, code, msg string) bool {
	send := c.enc.reply
	if wire.ClosesConnection(code) {
		send = c.enc.replyLast
	}
	err := send(wire.TypeSession, wire.CodeError, id, func(b []byte) []byte {
		return appendErrorBody(b, code, msg)
	})
	if err != nil {
		c.writeFailed(err)
		return false
	}
	if wire.ClosesConnection(code) {
		switch code {
		case wire.ErrCodeBadJSON:
			c.setReason(reasonBadJSON)
		case wire.ErrCodeMessageTooLarge:
			c.setReason(reasonTooLarge)
		case wire.ErrCodeUnsupportedVersion:
			c.setReason(reasonUnsupportedVersion)
		}
		c.linger = true
		return false
	}
	return true
}

// reply sends a reply; it reports whether the connection goes on.
func (c *conn) reply(typ, code int, id []byte, body func([]byte) []byte) bool {
	if err := c.enc.reply(typ, code, id, body); err != nil {
		c.writeFailed(err)
		return false
	}
	return true
}

func (c *conn) writeFailed(err error) {
	if c.err == nil {
		c.err = err
	}
	c.setReason(reasonWriteError)
}

// isEOF reports whether a read error means the peer went away.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
