package gmp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/wasm"
)

// ErrServerClosed is what Serve returns after Shutdown or Close.
var ErrServerClosed = errors.New("gmp: server closed")

// ModuleStore is what the server needs of the module repository
// (*repo.Repo satisfies it).
type ModuleStore interface {
	// Get resolves q (the server parsed it from the request: the store
	// checks nothing again) and opens a verifying reader of rec.Size
	// bytes: reading to the end fails with an error where the bytes do not
	// match rec.Digest. Errors wrap errdefs.ErrNotFound (no such module or
	// version). The caller closes the reader.
	Get(ctx context.Context, q index.Query) (index.Record, io.ReadCloser, error)
	// List lists the modules of name (the zero Name for all), names in
	// order, versions highest first.
	List(ctx context.Context, name index.Name) ([]index.Module, error)
}

// ModuleInfoStore is a ModuleStore that also serves what it recorded of
// each version (*repo.Repo is one): with it, the server offers the
// module_info feature.
type ModuleInfoStore interface {
	ModuleStore
	// Info resolves q as Get does and returns what the parse of
	// the version's bytes recorded. Errors as for Get; bytes stored
	// before uploads were parsed that the parser refuses wrap
	// wasm.ErrInvalidModule.
	Info(ctx context.Context, q index.Query) (index.Record, wasm.Info, error)
}

// Config of a Server. Zero fields take the defaults of limits.go.
type Config struct {
	Modules        ModuleStore // nil: module requests get ERROR internal
	MaxMessage     int
	MaxConns       int
	MessageTimeout time.Duration
	WriteTimeout   time.Duration
	ReplyTimeout   time.Duration // a whole MODULE reply (DefaultReplyTimeout)
	MaxRejecting   int           // busy rejections in flight (DefaultMaxRejecting)
	ServerName     string        // e.g. "gpmd/1.0.0"
	Logger         *slog.Logger
	Observer       Observer // nil: observe nothing (metrics)
	// Events, when not nil, is the hub node events are published to and
	// GMP subscribers read (feature "events"); the daemon publishes
	// module events to the same hub.
	Events *events.Hub
	// Features are optional parts of GMP.md implemented outside this
	// package (module_info, fleet) that WELCOME lists besides the ones
	// the server itself offers (see Server.Features).
	Features []string
	// Fleet, when not nil, joins the server to a fleet (GMP.md, Fleet
	// scope): every registration and leave is reported to it, and DISCOVER
	// with scope "fleet" and CONNECT of name@device answer from it. Device
	// is then this device's name in the fleet.
	Fleet  Fleet
	Device string
}

// Server serves GMP. Its methods are safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	reg *registry
	// features is what WELCOME lists (computed once by NewServer).
	features []string

	// ctx is handed to the module store; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc

	inShutdown atomic.Bool  // set by Shutdown and Close, never cleared
	panics     atomic.Int64 // handler panics recovered; tests assert none

	// freeBufs keeps a few buffer pairs of finished MODULE replies;
	// moduleReplies counts the replies holding a pair now, and lastRelease
	// is when memory was last handed back (unix nanoseconds).
	freeBufs      chan *moduleBufs
	moduleReplies atomic.Int64
	modulePeak    atomic.Int64 // the most moduleReplies since the last release
	lastRelease   atomic.Int64
	// epoch is when the server was made: requests are timed from it
	// (handle).
	epoch time.Time
	// chunkSize is the size of a MODULE reply's chunks: moduleChunk, set
	// once by NewServer (BenchmarkModuleChunk compares another before
	// serving).
	chunkSize int

	// fleetCache is the last encoded NODES body of a fleet-scope DISCOVER.
	fleetCache atomic.Pointer[fleetNodes]

	// rejecting counts connections over the cap being told busy now.
	rejecting atomic.Int64

	// mu guards listeners and conns: the sets Shutdown and Close must reach.
	// A connection is in conns from accept until its goroutine has removed
	// its registration and closed its socket.
	mu        sync.Mutex
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
}

// NewServer returns a server with cfg's limits (zero: the defaults).
func NewServer(cfg Config) *Server {
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MessageTimeout <= 0 {
		cfg.MessageTimeout = DefaultMessageTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ReplyTimeout <= 0 {
		cfg.ReplyTimeout = DefaultReplyTimeout
	}
	if cfg.MaxRejecting <= 0 {
		cfg.MaxRejecting = DefaultMaxRejecting
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "gpmd"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	reg := newRegistry(cfg.Events, cfg.Logger)
	reg.fleet = cfg.Fleet
	return &Server{
		features:  computeFeatures(cfg),
		cfg:       cfg,
		log:       cfg.Logger,
		reg:       reg,
		ctx:       ctx,
		cancel:    cancel,
		listeners: make(map[*net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		freeBufs:  make(chan *moduleBufs, moduleBufsKept),
		chunkSize: moduleChunk,
		epoch:     time.Now(),
	}
}

// Serve accepts connections on l until Shutdown or Close, then returns
// ErrServerClosed; any other error from l ends it with that error. A
// temporary accept error (too many open files and the like) is retried
// after a back-off. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	if !s.trackListener(&l, true) {
		l.Close()
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	defer l.Close()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				delay = min(max(2*delay, acceptBackoffMin), acceptBackoffMax)
				s.log.Warn("gmp: accept failed; retrying", "err", err, "retry_in", delay)
				t := time.NewTimer(delay)
				select {
				case <-t.C:
				case <-s.ctx.Done():
					t.Stop()
				}
				continue
			}
			return err
		}
		delay = 0
		s.cfg.Observer.ConnAccepted()
		c := s.newConn(nc)
		switch s.trackConn(c) {
		case trackOK:
			go c.serve()
		case trackBusy:
			s.reject(nc)
		case trackClosed:
			nc.Close()
			s.cfg.Observer.ConnClosed(reasonServerClosed.String())
		}
	}
}

// isTemporary reports whether an accept error may clear up by itself.
func isTemporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Shutdown stops accepting, closes every connection that is between
// requests, lets the requests in progress finish (each connection closes
// once its reply is written), and returns when no connection is left. When
// ctx ends first it returns ctx's error and leaves the rest open: call
// Close to end them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	err := s.closeListenersLocked()
	s.mu.Unlock()

	wait := time.Millisecond
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if s.closeIdleConns() {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			wait = min(2*wait, shutdownPollMax)
			t.Reset(wait)
		}
	}
}

// Close stops at once: listeners and every connection are closed, module
// reads in progress are cancelled. It does not wait for the connections'
// goroutines.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.state.Store(stateClosing)
		c.close(reasonServerClosed)
	}
	return err
}

// computeFeatures is the WELCOME list: what this server implements given
// its config (events with a hub, have with a module store), then
// cfg.Features, each once, in that order.
func computeFeatures(cfg Config) []string {
	fs := []string{}
	add := func(f string) {
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	if cfg.Events != nil {
		add(wire.FeatureEvents)
	}
	if cfg.Modules != nil {
		add(wire.FeatureHave)
	}
	if _, ok := cfg.Modules.(ModuleInfoStore); ok {
		add(wire.FeatureModuleInfo)
	}
	if cfg.Fleet != nil {
		add(wire.FeatureFleet)
	}
	for _, f := range cfg.Features {
		add(f)
	}
	return fs
}

// Features lists the optional parts of GMP.md this server offers, as
// WELCOME does. The caller must not modify it.
func (s *Server) Features() []string { return s.features }

// Nodes lists live registrations sorted by name, discoverable or not.
func (s *Server) Nodes() []wire.NodeInfo { return s.reg.all() }

// ConnCount is the number of open GMP connections.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

// closeListenersLocked closes every listener. s.mu must be held.
func (s *Server) closeListenersLocked() error {
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

type trackResult int

const (
	trackOK trackResult = iota
	trackBusy
	trackClosed
)

// trackConn adds c to the live set unless the cap is reached.
func (s *Server) trackConn(c *conn) trackResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return trackClosed
	}
	if len(s.conns) >= s.cfg.MaxConns {
		return trackBusy
	}
	s.conns[c] = struct{}{}
	return trackOK
}

func (s *Server) untrackConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// closeIdleConns closes the connections that wait between requests and
// reports whether none is left at all.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosing) {
			c.close(reasonShutdown)
		}
	}
	return len(s.conns) == 0
}

// reject refuses a connection over the cap. At most Config.MaxRejecting
// are told why (rejectBusy) at a time; past that, a flood gets its
// connections closed at once, with no goroutine and no lingering
// descriptor, and the peer sees a plain close (GMP.md: retry with a
// back-off either way).
func (s *Server) reject(nc net.Conn) {
	if s.rejecting.Add(1) > int64(s.cfg.MaxRejecting) {
		s.rejecting.Add(-1)
		nc.Close()
		s.log.Debug("gmp connection closed", "remote", nc.RemoteAddr().String(), "reason", reasonBusy.String(), "err", "too many rejections in flight; closed without ERROR busy")
		return
	}
	go func() {
		defer s.rejecting.Add(-1)
		s.rejectBusy(nc)
	}()
}

// rejectBusy tells a connection over the cap why it is refused, then closes
// it. The connection was never tracked.
func (s *Server) rejectBusy(nc net.Conn) {
	enc := encoder{conn: nc, timeout: lingerTimeout}
	err := enc.reply(wire.TypeSession, wire.CodeError, nil, func(b []byte) []byte {
		return appendErrorBody(b, wire.ErrCodeBusy, "GPMD holds as many GMP connections as it allows; try again later")
	})
	lingerClose(nc)
	s.cfg.Observer.ConnClosed(reasonBusy.String())
	s.log.Debug("gmp connection closed", "remote", nc.RemoteAddr().String(), "reason", reasonBusy.String(), "err", err)
}

// lingerClose drains nc, then closes it.
func lingerClose(nc net.Conn) {
	drain(nc)
	nc.Close()
}

// drain half-closes nc and reads what the peer still sends, for a moment
// at most, before the caller closes it. Closing a socket with unread input
// makes the kernel send RST, which can destroy the reply the peer has not
// read yet.
func drain(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		if nc.SetReadDeadline(time.Now().Add(lingerTimeout)) == nil {
			io.Copy(io.Discard, nc)
		}
	}
}
