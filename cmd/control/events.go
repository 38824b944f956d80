package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// EventSource is what the event stream needs (*gmp.Server satisfies it):
// subscriptions consistent with the live node list, and resumes from the
// hub's history.
type EventSource interface {
	// Subscribe starts a subscription; seq is the last event before it and
	// nodes the discoverable nodes at that instant (topic nodes only).
	Subscribe(topics events.Topics) (sub *events.Subscription, seq uint64, nodes []string, err error)
	// Resume replays the held events after seq after, then goes on; an
	// error wrapping events.ErrGone when they are not held.
	Resume(topics events.Topics, after uint64) (*events.Subscription, error)
}

// Timings of the event stream.
const (
	// streamKeepAlive is how often an idle stream gets a comment line, so
	// that a reader (and any proxy) sees it is alive and a writer learns
	// of a reader that is gone.
	streamKeepAlive = 15 * time.Second
	// streamWriteTimeout bounds each write to a stream's reader; a reader
	// that takes no bytes for this long is cut off.
	streamWriteTimeout = 30 * time.Second
)

// Names of the stream's own SSE events (the events of the hub carry no
// SSE event name, so that a plain EventSource onmessage gets them all).
const (
	StreamSubscribed = "subscribed" // the first message of a fresh stream
	StreamResync     = "resync"     // the first message of a resume that came too late
)

// StreamStart is the data of the first message of a stream: what a GMP
// SUBSCRIBED says, plus, for resync, why.
type StreamStart struct {
	Topics []string `json:"topics"`
	// Scope is "fleet" when the stream's nodes are the fleet's (scope=fleet);
	// absent for this device's.
	Scope   string   `json:"scope,omitempty"`
	Seq     uint64   `json:"seq"`
	Nodes   []string `json:"nodes,omitempty"`
	Message string   `json:"message,omitempty"`
}

// getEvents is GET /v1/events?topics=nodes,modules[&scope=fleet]: a
// Server-Sent Events stream of the hub's events (docs/control-api.md,
// Events). scope=fleet adds the other devices' node events, as GMP's
// SUBSCRIBE with fleet scope does.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Events == nil {
		return fmt.Errorf("%w: this gpmd has no event stream", errdefs.ErrUnavailable)
	}
	topics, err := events.ParseTopicList(r.URL.Query().Get("topics"))
	if err != nil {
		return err
	}
	switch scope := r.URL.Query().Get("scope"); scope {
	case "", ScopeDevice:
	case ScopeFleet:
		if topics&events.Nodes != 0 {
			topics |= events.FleetNodes
		}
	default:
		return fmt.Errorf("%w: scope %q: %q or %q", errdefs.ErrInvalid, scope, ScopeDevice, ScopeFleet)
	}
	var (
		sub   *events.Subscription
		start *StreamStart
	)
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		after, perr := strconv.ParseUint(strings.TrimSpace(last), 10, 64)
		if perr != nil {
			return fmt.Errorf("%w: Last-Event-ID %q is not an event's seq", errdefs.ErrInvalid, last)
		}
		sub, err = s.cfg.Events.Resume(topics, after)
		if errors.Is(err, events.ErrGone) {
			start, sub, err = s.startStream(topics)
			if start != nil {
				start.Message = fmt.Sprintf("the events after %d are no longer held (or this gpmd restarted): resync from GET /v1/nodes and GET /v1/modules, then follow from here", after)
			}
		}
	} else {
		start, sub, err = s.startStream(topics)
	}
	if err != nil {
		return err
	}
	defer sub.Close()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	var buf []byte
	send := func() error {
		rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		return rc.Flush()
	}
	if start != nil {
		name := StreamSubscribed
		if start.Message != "" {
			name = StreamResync
		}
		data, _ := json.Marshal(start)
		buf = fmt.Appendf(buf, "event: %s\nid: %d\ndata: %s\n\n", name, start.Seq, data)
	} else {
		buf = append(buf, ": resumed\n\n"...)
	}
	if err := send(); err != nil {
		return nil // the reader left
	}

	tick := time.NewTicker(streamKeepAlive)
	defer tick.Stop()
	var evs []*events.Event
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.stopping:
			return nil
		case <-tick.C:
			buf = append(buf, ": keep-alive\n\n"...)
		case <-sub.Ready():
			evs = sub.Take(evs[:0])
			for _, e := range evs {
				buf = append(buf, "id: "...)
				buf = strconv.AppendUint(buf, e.Seq, 10)
				buf = append(buf, "\ndata: "...)
				buf = e.AppendJSON(buf)
				buf = append(buf, '\n', '\n')
			}
			clear(evs)
		}
		if err := send(); err != nil {
			return nil
		}
	}
}

// startStream starts a fresh subscription and its first message.
func (s *Server) startStream(topics events.Topics) (*StreamStart, *events.Subscription, error) {
	sub, seq, nodes, err := s.cfg.Events.Subscribe(topics)
	if err != nil {
		return nil, nil, err
	}
	start := &StreamStart{Topics: topics.Names(), Seq: seq, Nodes: nodes}
	if topics&events.FleetNodes != 0 {
		start.Scope = ScopeFleet
	}
	return start, sub, nil
}

// The scopes of the event stream (scope=…), as GMP names them.
const (
	ScopeDevice = wire.ScopeDevice
	ScopeFleet  = wire.ScopeFleet
)

// StopStreams ends every event stream (their handlers return), so that a
// graceful shutdown does not wait for readers that never leave. The
// daemon calls it from http.Server.RegisterOnShutdown. Calling it twice is
// harmless.
func (s *Server) StopStreams() { s.stopOnce.Do(func() { close(s.stopping) }) }

// StreamMessage is one message of the event stream as Client.Events reads
// it: the stream's first message (Start, with Kind StreamSubscribed or
// StreamResync) or an event (Kind "").
type StreamMessage struct {
	Kind  string
	Start StreamStart
	Event events.Event
}

// Events follows GET /v1/events for topics (events.ParseTopicList; ""
// for all) in scope (ScopeFleet, or "" for this device) until ctx ends or
// the stream does, calling fn for each message. lastID, when not 0,
// resumes after that seq (Last-Event-ID). It returns fn's error, ctx's, or
// why the stream ended.
func (c *Client) Events(ctx context.Context, topics, scope string, lastID uint64, fn func(StreamMessage) error) error {
	var hdr http.Header
	if lastID != 0 {
		hdr = http.Header{"Last-Event-ID": {strconv.FormatUint(lastID, 10)}}
	}
	q := url.Values{}
	if topics != "" {
		q.Set("topics", topics)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil, hdr, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = readSSE(resp.Body, func(name string, data []byte) error {
		var m StreamMessage
		switch name {
		case "":
			if err := json.Unmarshal(data, &m.Event); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
		case StreamSubscribed, StreamResync:
			m.Kind = name
			if err := json.Unmarshal(data, &m.Start); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
		default:
			return nil // a kind this client does not know
		}
		return fn(m)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = fmt.Errorf("%w: the daemon ended the event stream", errdefs.ErrUnavailable)
	}
	return err
}

// readSSE reads Server-Sent Events (the subset the stream writes: event,
// id, data, comments) and calls fn for each complete message.
func readSSE(r io.Reader, fn func(name string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		name string
		data []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data != nil {
				if err := fn(name, data); err != nil {
					return err
				}
			}
			name, data = "", nil
		case line[0] == ':':
		default:
			field, value, _ := strings.Cut(string(line), ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	return sc.Err()
}
