package peer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"time"
)

// Handler runs calls. It is called from many goroutines at once.
type Handler interface {
	// Call runs c and returns its results in text form. ctx ends when the
	// connection closes or the server stops.
	Call(ctx context.Context, c Call) ([]string, error)
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("peer: server closed")

// Server answers calls from other nodes.
type Server struct {
	h Handler

	// mu guards listeners, conns and closed.
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool

	ctx    context.Context // ends at Close; every call's context derives from it
	cancel context.CancelFunc
	wg     sync.WaitGroup // connection goroutines
}

// NewServer returns a server that runs calls with h.
func NewServer(h Handler) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{h: h, listeners: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}, ctx: ctx, cancel: cancel}
}

// Serve accepts connections on l until Close, then returns ErrServerClosed;
// it returns another error only when l is closed under it. Failed accepts
// (no file descriptors left) are retried after a pause of 5 ms doubling to
// 1 s. Serve closes l.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like pass: wait and retry,
			// as net/http does, rather than stop serving.
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		if !s.start(nc) {
			nc.Close()
			return ErrServerClosed
		}
	}
}

// start serves nc on a goroutine of its own, counted in wg, unless the
// server is closed. It adds to wg under mu: Close sets closed under mu and
// only then waits on wg, so no connection is counted after that Wait began
// (a WaitGroup must not grow from zero while it is waited on).
func (s *Server) start(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serveConn(nc)
	}()
	return true
}

// Close stops every listener and connection and waits for the calls in
// progress to see their context end and return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.cancel()
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// connWriter writes answers whole, one at a time.
type connWriter struct {
	mu sync.Mutex
	bw *bufio.Writer
}

func (w *connWriter) write(r response) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.bw.Write(b); err != nil {
		return err
	}
	return w.bw.Flush()
}

func (s *Server) serveConn(nc net.Conn) {
	ctx, cancel := context.WithCancel(s.ctx)
	var calls sync.WaitGroup
	defer func() {
		cancel()
		nc.Close()
		calls.Wait()
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	w := &connWriter{bw: bufio.NewWriter(nc)}
	sc := bufio.NewScanner(nc)
	sc.Buffer(make([]byte, 0, 4096), MaxMessage)
	slots := make(chan struct{}, MaxInFlight)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			if w.write(response{ID: req.ID, Error: &wireError{CodeBadRequest, "not a call: " + err.Error()}}) != nil {
				return
			}
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		calls.Go(func() {
			defer func() { <-slots }()
			res := s.run(ctx, req)
			if w.write(res) != nil {
				nc.Close() // the reader sees it and ends the connection
			}
		})
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		w.write(response{Error: &wireError{CodeBadRequest, "message longer than the limit"}})
	}
}

func (s *Server) run(ctx context.Context, req request) response {
	mod, fn, err := SplitTarget(req.Call)
	var results []string
	if err == nil {
		results, err = s.h.Call(ctx, Call{Module: mod, Function: fn, Version: req.Version, Args: req.Args})
	}
	if err != nil {
		return response{ID: req.ID, Error: &wireError{Code: codeOf(err), Message: err.Error()}}
	}
	if results == nil {
		results = []string{}
	}
	return response{ID: req.ID, Results: results}
}
