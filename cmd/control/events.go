package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
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
	case "", api.ScopeDevice:
	case api.ScopeFleet:
		if topics&events.Nodes != 0 {
			topics |= events.FleetNodes
		}
	default:
		return fmt.Errorf("%w: scope %q: %q or %q", errdefs.ErrInvalid, scope, api.ScopeDevice, api.ScopeFleet)
	}
	var (
		sub   *events.Subscription
		start *api.StreamStart
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
		name := api.StreamSubscribed
		if start.Message != "" {
			name = api.StreamResync
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
func (s *Server) startStream(topics events.Topics) (*api.StreamStart, *events.Subscription, error) {
	sub, seq, nodes, err := s.cfg.Events.Subscribe(topics)
	if err != nil {
		return nil, nil, err
	}
	start := &api.StreamStart{Topics: topics.Names(), Seq: seq, Nodes: nodes}
	if topics&events.FleetNodes != 0 {
		start.Scope = api.ScopeFleet
	}
	return start, sub, nil
}

// StopStreams ends every event stream (their handlers return), so that a
// graceful shutdown does not wait for readers that never leave. The
// daemon calls it from http.Server.RegisterOnShutdown. Calling it twice is
// harmless.
func (s *Server) StopStreams() { s.stopOnce.Do(func() { close(s.stopping) }) }
