package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"sync"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// DefaultEventBuffer is how many received events the client holds for a
// reader that has not taken them yet. Past it the client drops them and
// hands the reader an overflow per topic, as GPMD does for a subscriber
// that falls behind: the reading goroutine never waits for the reader, so
// replies keep flowing even when the reader calls the client itself.
const DefaultEventBuffer = 4096

// Subscription is the connection's subscription to events (GMP.md,
// Events): one per connection, widened by each Subscribe. Next and All
// read its events, in seq order.
type Subscription struct {
	c *Client
	q *eventQueue
	// Subscribed is the SUBSCRIBED reply of the Subscribe that returned
	// this value: the seq of the last event before it and, with topic
	// nodes, the discoverable nodes at that instant.
	Subscribed wire.Subscribed
}

// Subscribe subscribes the connection to topics (events.TopicNodes,
// events.TopicModules); subscribing again adds topics. Check WELCOME's
// features for wire.FeatureEvents first: a GPMD without it answers
// unknown_message (a *ProtocolError). An unknown topic is bad_request.
func (c *Client) Subscribe(ctx context.Context, topics ...string) (*Subscription, error) {
	return c.subscribe(ctx, "", topics)
}

// subscribe is SUBSCRIBE in scope ("" for none: this device).
func (c *Client) subscribe(ctx context.Context, scope string, topics []string) (*Subscription, error) {
	q := c.eventQueue(true)
	r, err := c.roundTrip(ctx, wire.TypeEvent, wire.CodeSubscribe, func(b []byte) []byte {
		b = appendTopicsBody(b, topics)
		if scope != "" {
			b = append(b[:len(b)-1], `,"scope":`...)
			b = wire.AppendString(b, scope)
			b = append(b, '}')
		}
		return b
	}, nil)
	var body wire.Subscribed
	if err == nil {
		err = r.decode(wire.TypeEvent, wire.CodeSubscribed, &body)
	}
	if err != nil {
		return nil, err
	}
	return &Subscription{c: c, q: q, Subscribed: body}, nil
}

// Unsubscribe ends topics (none: all) and returns the topics still
// subscribed. Events of the ended topics already received may still be
// read.
func (c *Client) Unsubscribe(ctx context.Context, topics ...string) ([]string, error) {
	r, err := c.roundTrip(ctx, wire.TypeEvent, wire.CodeUnsubscribe, func(b []byte) []byte {
		if len(topics) == 0 {
			return append(b, '{', '}')
		}
		return appendTopicsBody(b, topics)
	}, nil)
	var body struct {
		Topics []string `json:"topics"`
	}
	if err == nil {
		err = r.decode(wire.TypeEvent, wire.CodeUnsubscribed, &body)
	}
	return body.Topics, err
}

func appendTopicsBody(b []byte, topics []string) []byte {
	b = append(b, `{"topics":[`...)
	for i, t := range topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendString(b, t)
	}
	return append(b, ']', '}')
}

// Next returns the next event, waiting for one until ctx ends. When the
// connection ends it returns its error (wrapping ErrClosed) once the
// events received before are read.
func (s *Subscription) Next(ctx context.Context) (events.Event, error) {
	return s.q.next(ctx)
}

// All iterates over the events until ctx ends or the connection does; the
// error that ended it comes last (ctx's error, or one wrapping ErrClosed).
func (s *Subscription) All(ctx context.Context) iter.Seq2[events.Event, error] {
	return func(yield func(events.Event, error) bool) {
		for {
			e, err := s.q.next(ctx)
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// eventQueue returns the client's event queue, making it when make is
// true.
func (c *Client) eventQueue(create bool) *eventQueue {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.evq == nil && create {
		c.evq = &eventQueue{max: DefaultEventBuffer, ready: make(chan struct{}, 1)}
		c.mu.Lock()
		if c.err != nil {
			c.evq.err = c.err
		}
		c.mu.Unlock()
	}
	return c.evq
}

// deliverEvent queues one EVENT body for the reader (on the reading
// goroutine; it never blocks).
func (c *Client) deliverEvent(body []byte) error {
	var e events.Event
	if err := json.Unmarshal(body, &e); err != nil {
		return fmt.Errorf("%w: EVENT body: %v", ErrBadReply, err)
	}
	q := c.eventQueue(false)
	if q == nil {
		return fmt.Errorf("%w: an EVENT on a connection that never subscribed", ErrBadReply)
	}
	q.push(e)
	return nil
}

// eventQueue is a bounded queue of received events.
type eventQueue struct {
	max   int
	ready chan struct{} // a token when events or the end may be waiting

	mu      sync.Mutex // guards the rest
	q       []events.Event
	dropped uint64   // seq of the last event dropped and not yet told
	topics  []string // topics seen, for the overflow events
	err     error    // the connection's end
}

func (q *eventQueue) push(e events.Event) {
	q.mu.Lock()
	seen := false
	for _, t := range q.topics {
		seen = seen || t == e.Topic
	}
	if !seen {
		q.topics = append(q.topics, e.Topic)
	}
	if len(q.q) >= q.max {
		q.q = q.q[:0]
		q.dropped = e.Seq
	} else {
		q.q = append(q.q, e)
	}
	q.mu.Unlock()
	q.wake()
}

func (q *eventQueue) end(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	q.wake()
}

func (q *eventQueue) wake() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *eventQueue) next(ctx context.Context) (events.Event, error) {
	for {
		q.mu.Lock()
		if q.dropped != 0 {
			// Told as GPMD tells it: one overflow per topic, then what
			// came after.
			for _, t := range q.topics {
				q.q = append([]events.Event{{Seq: q.dropped, Topic: t, Event: events.Overflow}}, q.q...)
			}
			q.dropped = 0
		}
		if len(q.q) > 0 {
			e := q.q[0]
			q.q = q.q[1:]
			if len(q.q) > 0 {
				q.wake()
			}
			q.mu.Unlock()
			return e, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			q.wake() // other readers see the end too
			return events.Event{}, err
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			return events.Event{}, ctx.Err()
		}
	}
}
