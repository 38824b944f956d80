package events

import "sync"

// Defaults of Options (the daemon's --events-history and --events-queue).
const (
	// DefaultHistory is how many events the hub keeps for resumes.
	DefaultHistory = 4096
	// DefaultQueue is how many events a subscriber may have waiting
	// before its queue is dropped (GMP.md: 1024 or more).
	DefaultQueue = 1024
)

// Options of a Hub. Zero fields take the defaults.
type Options struct {
	History int
	Queue   int
}

// Hub numbers events and hands them to subscribers. Safe for concurrent
// use.
type Hub struct {
	queue int

	// mu guards seq, hist and subs. It is held while an event is numbered
	// and queued for every subscriber, so that a subscription begins
	// exactly between two events.
	mu      sync.Mutex
	seq     uint64
	hist    []*Event // ring: the event of seq s is at hist[s%len(hist)]
	subs    map[*Subscription]struct{}
	dropped uint64 // events dropped from subscribers' queues by overflows, in all
}

// New returns a hub with opts's limits.
func New(opts Options) *Hub {
	if opts.History <= 0 {
		opts.History = DefaultHistory
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	return &Hub{queue: opts.Queue, hist: make([]*Event, opts.History), subs: make(map[*Subscription]struct{})}
}

// Dropped is how many events overflows have dropped from subscribers'
// queues since the hub began (an event dropped for two subscribers counts
// twice): the metric gpmd_events_dropped_total.
func (h *Hub) Dropped() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dropped
}

// QueueSize is the bound of each subscriber's queue.
func (h *Hub) QueueSize() int { return h.queue }

// Publish numbers e, keeps it in the history and queues it for every
// subscriber of its topic; it returns the seq. It never blocks on a
// subscriber. e.Seq is ignored.
func (h *Hub) Publish(e Event) uint64 {
	p := &e
	t := p.member()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	p.Seq = h.seq
	h.hist[h.seq%uint64(len(h.hist))] = p
	for s := range h.subs {
		h.dropped += uint64(s.push(p, t))
	}
	return p.Seq
}

// Seq is the seq of the last event published (0 before the first).
func (h *Hub) Seq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Subscribe starts a subscription to topics. seq is that of the last event
// before it: every later event of its topics is delivered, none before.
func (h *Hub) Subscribe(topics Topics) (sub *Subscription, seq uint64) {
	sub = h.newSubscription(topics)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[sub] = struct{}{}
	return sub, h.seq
}

// Resume starts a subscription to topics that first delivers the events
// after seq after that the history still holds, then every later one. It
// fails with ErrGone when an event after `after` is no longer held, or
// when after is beyond the last seq issued (a previous process's seq).
// The replay may exceed the queue's bound; it is bounded by the history.
func (h *Hub) Resume(topics Topics, after uint64) (*Subscription, error) {
	sub := h.newSubscription(topics)
	h.mu.Lock()
	defer h.mu.Unlock()
	n := uint64(len(h.hist))
	oldest := uint64(1)
	if h.seq > n {
		oldest = h.seq - n + 1
	}
	if after > h.seq || after+1 < oldest {
		return nil, ErrGone
	}
	for s := after + 1; s <= h.seq; s++ {
		e := h.hist[s%n]
		if e.member()&topics != 0 {
			sub.q = append(sub.q, e)
		}
	}
	h.subs[sub] = struct{}{}
	if len(sub.q) > 0 {
		sub.ready <- struct{}{}
	}
	return sub, nil
}

// Subscribers is the number of open subscriptions.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) newSubscription(topics Topics) *Subscription {
	return &Subscription{hub: h, topics: topics, max: h.queue, ready: make(chan struct{}, 1)}
}

// Subscription is one subscriber's queue. Its methods are safe for
// concurrent use; one reader takes its events.
type Subscription struct {
	hub   *Hub
	max   int
	ready chan struct{} // holds a token when events may be waiting

	// mu guards topics, q, dropped and closed.
	mu      sync.Mutex
	topics  Topics
	q       []*Event
	dropped uint64 // seq of the last event dropped by an overflow not yet told; 0: none
	closed  bool
}

// push queues e for topic t and returns how many events an overflow
// dropped (0 when none); the hub's lock is held.
func (s *Subscription) push(e *Event, t Topics) (dropped int) {
	s.mu.Lock()
	if s.topics&t == 0 || s.closed {
		s.mu.Unlock()
		return 0
	}
	if len(s.q) >= s.max {
		// Behind by more than the bound: drop all that waits, and this
		// one, and tell the reader once per topic.
		dropped = len(s.q) + 1
		clear(s.q)
		s.q = s.q[:0]
		s.dropped = e.Seq
	} else {
		s.q = append(s.q, e)
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return dropped
}

// Ready receives a token when events may be waiting; then call Take.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Take appends the waiting events to dst, in seq order, and returns it:
// first one overflow per subscribed topic when events were dropped, then
// the queued events of the topics still subscribed.
func (s *Subscription) Take(dst []*Event) []*Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dropped != 0 {
		for _, name := range s.topics.Names() {
			dst = append(dst, &Event{Seq: s.dropped, Topic: name, Event: Overflow})
		}
		s.dropped = 0
	}
	for _, e := range s.q {
		if e.member()&s.topics != 0 {
			dst = append(dst, e)
		}
	}
	clear(s.q)
	s.q = s.q[:0]
	return dst
}

// Topics is the set subscribed now.
func (s *Subscription) Topics() Topics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.topics
}

// Add subscribes to more topics and returns the seq of the last event
// before they took effect: their events after it are delivered.
func (s *Subscription) Add(topics Topics) uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.mu.Lock()
	s.topics |= topics
	s.mu.Unlock()
	return s.hub.seq
}

// Remove unsubscribes from topics (AllTopics: all; Nodes takes its fleet
// scope, FleetNodes, with it) and returns the topics still subscribed.
// Events of removed topics still queued are not delivered. With none left
// the subscription stays open: Add may follow.
func (s *Subscription) Remove(topics Topics) Topics {
	if topics&Nodes != 0 {
		topics |= FleetNodes
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.topics &^= topics
	return s.topics
}

// Close ends the subscription and releases its queue. Closing twice is
// harmless.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	delete(s.hub.subs, s)
	s.hub.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.q = nil
	s.mu.Unlock()
}
