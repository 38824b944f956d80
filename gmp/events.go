package gmp

import (
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// eventBatchBytes bounds the events written under the connection's write
// lock at a time, so a reply waits for at most this much event traffic.
const eventBatchBytes = 32 << 10

var topicsKeys = [1]string{"topics"}

// readTopics reads the "topics" array of SUBSCRIBE and UNSUBSCRIBE. absent
// reports a missing (or null) member.
func readTopics(body []byte) (t events.Topics, absent bool, rerr *requestError) {
	var m [1][]byte
	wire.LastMembers(body, topicsKeys[:], m[:])
	if m[0] == nil {
		return 0, true, nil
	}
	if m[0][0] != '[' {
		return 0, false, fieldError("topics", "an array of strings")
	}
	var names []string
	wire.WalkArray(m[0], func(v []byte) bool {
		s, ok := wire.DecodeString(v)
		if !ok {
			rerr = fieldError("topics", "an array of strings")
			return false
		}
		names = append(names, s)
		return true
	})
	if rerr != nil {
		return 0, false, rerr
	}
	t, err := events.ParseTopics(names)
	if err != nil {
		return 0, false, badRequest("%s", err.Error())
	}
	return t, false, nil
}

// readScope reads SUBSCRIBE's "scope" (GMP.md, fleet scope): fleet is
// true for "fleet", false for "device" or none. A scope of fleet on a
// server in no fleet asks for a feature it does not offer: unknown_message.
func (c *conn) readScope(body []byte) (fleet bool, rerr *requestError) {
	scope, rerr := stringField(body, "scope", false)
	if rerr != nil {
		return false, rerr
	}
	switch scope {
	case "", wire.ScopeDevice:
		return false, nil
	case wire.ScopeFleet:
		if c.s.cfg.Fleet == nil {
			return false, &requestError{code: wire.ErrCodeUnknownMessage,
				msg: `scope "fleet": this GPMD is in no fleet (WELCOME does not list the feature fleet)`}
		}
		return true, nil
	}
	return false, badRequest(`scope %q: "device" or "fleet"`, scope)
}

// subscribe answers SUBSCRIBE. The write lock is held from before the
// subscription starts until SUBSCRIBED is written, so no event of it can
// come before its SUBSCRIBED.
func (c *conn) subscribe(env envelope) bool {
	t, absent, rerr := readTopics(env.body)
	if rerr == nil && absent {
		rerr = badRequest("body field %q is required", "topics")
	}
	var fleetScope bool
	if rerr == nil {
		fleetScope, rerr = c.readScope(env.body)
	}
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if fleetScope && t&events.Nodes != 0 {
		// The fleet scope widens nodes to the other devices' nodes.
		t |= events.FleetNodes
	}
	c.enc.mu.Lock()
	body := c.startSubscription(t)
	b := wire.AppendHeader(c.enc.buf[:0], wire.TypeEvent, wire.CodeSubscribed, env.id)
	b = append(b, `{"topics":`...)
	b = appendStrings(b, body.Topics)
	b = append(b, `,"seq":`...)
	b = appendUint(b, body.Seq)
	if body.Nodes != nil {
		b = append(b, `,"nodes":`...)
		b = appendStrings(b, body.Nodes)
	}
	b = append(b, '}', '}', '\n')
	err := c.enc.writeLocked(b)
	if cap(b) <= keepBufferSize {
		c.enc.buf = b[:0]
	}
	c.enc.mu.Unlock()
	if err != nil {
		c.writeFailed(err)
		return false
	}
	return true
}

// startSubscription starts or widens the connection's subscription under
// the locks that order node events (Server.holdNodes), so that its seq and
// the node list are of the same instant; it starts the pump on the first
// SUBSCRIBE. The list is the fleet's (as a DISCOVER with fleet scope lists
// it) when the subscription holds the fleet scope after this request.
func (c *conn) startSubscription(t events.Topics) wire.Subscribed {
	var body wire.Subscribed
	first := c.sub == nil
	all := t
	if !first {
		all |= c.sub.Topics()
	}
	c.s.holdNodes(all&events.FleetNodes != 0, func(names []string) {
		if first {
			c.sub, body.Seq = c.s.cfg.Events.Subscribe(t)
		} else {
			body.Seq = c.sub.Add(t)
		}
		if t&events.Nodes != 0 {
			body.Nodes = names
		}
	})
	body.Topics = c.sub.Topics().Names()
	if first {
		c.evStop, c.evStopped = make(chan struct{}), make(chan struct{})
		go c.pumpEvents(c.sub, c.evStop, c.evStopped)
	}
	return body
}

// unsubscribe answers UNSUBSCRIBE: the topics named (none: all) end, and
// UNSUBSCRIBED lists those still subscribed.
func (c *conn) unsubscribe(env envelope) bool {
	t, absent, rerr := readTopics(env.body)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if absent {
		t = events.AllTopics
	}
	left := []string{}
	if c.sub != nil {
		left = c.sub.Remove(t).Names()
	}
	return c.reply(wire.TypeEvent, wire.CodeUnsubscribed, env.id, func(b []byte) []byte {
		b = append(b, `{"topics":`...)
		b = appendStrings(b, left)
		return append(b, '}')
	})
}

// pumpEvents writes the subscription's events to the connection, whole
// messages between replies, until stop closes. A write that fails ends the
// connection (the serve goroutine then sees its read fail).
func (c *conn) pumpEvents(sub *events.Subscription, stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	var (
		evs []*events.Event
		buf []byte
	)
	for {
		select {
		case <-stop:
			return
		case <-sub.Ready():
		}
		evs = sub.Take(evs[:0])
		for i := 0; i < len(evs); {
			buf = buf[:0]
			for ; i < len(evs) && len(buf) < eventBatchBytes; i++ {
				buf = appendEventMessage(buf, evs[i])
			}
			c.enc.mu.Lock()
			var err error
			if !c.enc.final {
				err = c.enc.writeLocked(buf)
			}
			c.enc.mu.Unlock()
			if err != nil {
				c.close(reasonWriteError)
				return
			}
		}
		clear(evs)
		if cap(buf) > keepBufferSize {
			buf = nil
		}
	}
}

// stopEvents ends the subscription and tells the pump to stop; called by
// the serve goroutine as the connection ends.
func (c *conn) stopEvents() {
	if c.sub == nil {
		return
	}
	c.sub.Close()
	close(c.evStop)
}

// waitEvents waits for the pump to end (after the socket is closed, so a
// write in progress fails at once).
func (c *conn) waitEvents() {
	if c.evStopped != nil {
		<-c.evStopped
	}
}

// appendEventMessage appends one EVENT message (no id).
func appendEventMessage(b []byte, e *events.Event) []byte {
	b = wire.AppendHeader(b, wire.TypeEvent, wire.CodeEvent, nil)
	b = e.AppendJSON(b)
	return append(b, '}', '\n')
}

// ErrNoEvents: the server was configured without an event hub.
var ErrNoEvents = fmt.Errorf("gmp: events are not enabled: %w", errdefs.ErrUnavailable)

// ErrNoFleet: a subscription asked for the fleet scope (events.FleetNodes)
// of a server in no fleet.
var ErrNoFleet = errdefs.Narrow("scope fleet: this gpmd is in no fleet (it was started without --fleet)", errdefs.ErrInvalid)

// Subscribe starts a subscription to topics for a reader outside GMP (the
// control API's event stream), as SUBSCRIBE does: seq is the last event
// before it, and nodes (when topics include nodes) the discoverable nodes
// at that same instant; with events.FleetNodes, the other devices' nodes
// too, as name@device, and their events (ErrNoFleet in no fleet). The
// caller closes the subscription.
func (s *Server) Subscribe(topics events.Topics) (sub *events.Subscription, seq uint64, nodes []string, err error) {
	if err := s.checkTopics(topics); err != nil {
		return nil, 0, nil, err
	}
	s.holdNodes(topics&events.FleetNodes != 0, func(names []string) {
		sub, seq = s.cfg.Events.Subscribe(topics)
		if topics&events.Nodes != 0 {
			nodes = append([]string{}, names...)
		}
	})
	return sub, seq, nodes, nil
}

// Resume starts a subscription that first replays the held events after
// seq after (events.Hub.Resume; events.ErrGone when they are not held).
func (s *Server) Resume(topics events.Topics, after uint64) (*events.Subscription, error) {
	if err := s.checkTopics(topics); err != nil {
		return nil, err
	}
	sub, err := s.cfg.Events.Resume(topics, after)
	if err != nil {
		return nil, fmt.Errorf("resume after event %d: %w", after, err)
	}
	return sub, nil
}

// checkTopics says whether this server can serve a subscription to topics.
func (s *Server) checkTopics(topics events.Topics) error {
	if s.cfg.Events == nil {
		return ErrNoEvents
	}
	if topics&events.FleetNodes != 0 && s.cfg.Fleet == nil {
		return ErrNoFleet
	}
	return nil
}

// holdNodes runs fn with the discoverable nodes at an instant when no
// node event is being published: under the registry's lock (this
// device's registrations publish under it) and, with fleet, inside the
// fleet's Snapshot (its changes publish under that), the fleet first. fn
// gets the merged list a fleet-scope DISCOVER gives, else this device's.
// A subscription fn starts sees every later change as an event and every
// earlier one in the names; names must not be modified.
func (s *Server) holdNodes(withFleet bool, fn func(names []string)) {
	if !withFleet {
		s.reg.subscribe(fn)
		return
	}
	s.cfg.Fleet.Snapshot(func(remote []string) {
		s.reg.subscribe(func(local []string) { fn(fleet.MergeNames(local, remote)) })
	})
}
