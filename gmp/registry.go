package gmp

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// registry holds the live nodes. A registration belongs to one connection
// and lives exactly as long as that connection (or until UNREGISTER): the
// connection's goroutine removes it before the socket is closed.
//
// Every change of a discoverable node is published to hub (when not nil)
// under mu, so that a subscriber that takes the node list and its seq
// under mu (subscribe) sees each change exactly once: in the list or as
// an event.
type registry struct {
	hub *events.Hub  // nil: no events
	log *slog.Logger // node arrivals and departures, at Info

	// fleet, when not nil, is told of every registration and leave, under
	// mu (see publishLocked). Set once, before the server serves.
	fleet  Fleet
	mu     sync.RWMutex             // guards byName and sorted
	byName map[string]*registration // live nodes by name
	// sorted is the discoverable names in order, nil when stale; body is
	// the NODES body that lists them, encoded once per change rather than
	// once per DISCOVER (encoding 64 names was half of DISCOVER's own CPU;
	// BenchmarkDiscover64). Built slices are never mutated, so readers may
	// keep them after unlocking.
	sorted []string
	body   []byte
}

type registration struct {
	info  wire.NodeInfo
	owner *conn // the connection it lives on
}

func newRegistry(hub *events.Hub, log *slog.Logger) *registry {
	return &registry{hub: hub, log: log, byName: make(map[string]*registration)}
}

// Why a registration ended, for the log.
const (
	leftUnregister = "unregister"
	leftClosed     = "connection closed"
	leftProtocol   = "protocol error"
	leftStopping   = "daemon stopping"
	leftReplaced   = "connection closed; its name was taken by a new registration"
)

// register adds info for owner; ok is false when the name is live (on any
// connection, the owner's own included).
//
// A name whose holder's peer has already closed its connection is not
// live: the holder's goroutine has not read the end yet, but will end the
// registration as soon as it does. Such a name is freed here rather than
// answered with name_taken, so that a node that closes and at once
// registers again on a new connection gets its name back (GMP.md: the
// name is free again "at once" when the connection closes).
func (r *registry) register(info wire.NodeInfo, owner *conn) (reg *registration, ok bool) {
	if info.Since.IsZero() {
		info.Since = time.Now()
	}
	var replaced *registration
	r.mu.Lock()
	if cur, taken := r.byName[info.Name]; taken {
		if cur.owner == nil || !peerClosed(cur.owner.nc) {
			r.mu.Unlock()
			return nil, false
		}
		// The holder's own close finds its node gone and does nothing.
		cur.owner.node.CompareAndSwap(cur, nil)
		r.removeLocked(cur)
		replaced = cur
	}
	reg = &registration{info: info, owner: owner}
	r.byName[info.Name] = reg
	if info.Discoverable {
		r.sorted, r.body = nil, nil
		if r.hub != nil {
			r.hub.Publish(events.Event{Topic: events.TopicNodes, Event: events.Registered,
				Name: info.Name, ID: info.ID, Address: info.Address, Port: info.Port})
		}
	}
	r.publishLocked(info)
	r.mu.Unlock()
	// The log is written outside the lock: registrations do not queue
	// behind the log file.
	if replaced != nil {
		r.logLeft(replaced.info, leftReplaced)
	}
	r.log.Info("node registered", "name", info.Name, "id", info.ID, "address", info.Address, "port", info.Port, "discoverable", info.Discoverable)
	return reg, true
}

// unregister removes reg if it is still the live registration of its name;
// why is logged.
func (r *registry) unregister(reg *registration, why string) {
	r.mu.Lock()
	cur, ok := r.byName[reg.info.Name]
	ok = ok && cur == reg
	if ok {
		r.removeLocked(reg)
	}
	r.mu.Unlock()
	if ok {
		r.logLeft(reg.info, why)
	}
}

func (r *registry) logLeft(info wire.NodeInfo, why string) {
	r.log.Info("node left", "name", info.Name, "id", info.ID, "address", info.Address, "port", info.Port, "why", why,
		"registered_for", time.Since(info.Since).Round(time.Millisecond))
}

// removeLocked deletes the live registration reg. r.mu must be held.
func (r *registry) removeLocked(reg *registration) {
	delete(r.byName, reg.info.Name)
	if reg.info.Discoverable {
		r.sorted, r.body = nil, nil
		if r.hub != nil {
			r.hub.Publish(events.Event{Topic: events.TopicNodes, Event: events.Unregistered, Name: reg.info.Name, ID: reg.info.ID})
		}
	}
	r.withdrawLocked(reg.info.Name)
}

// subscribe runs fn under the registry's lock with the discoverable names
// at that instant: a subscription fn starts sees every later change as an
// event and every earlier one in the names. The names must not be
// modified.
func (r *registry) subscribe(fn func(names []string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names, _ := r.sortedLocked()
	fn(names)
}

// lookup finds the live node called name, discoverable or not.
func (r *registry) lookup(name string) (wire.NodeInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.byName[name]
	if !ok {
		return wire.NodeInfo{}, false
	}
	return reg.info, true
}

// discoverable returns the names of the discoverable live nodes, sorted.
// The caller must not modify the slice: it is shared until the next change.
func (r *registry) discoverable() []string {
	names, _ := r.snapshot()
	return names
}

// nodesBody returns the body of the NODES reply to DISCOVER: the names of
// discoverable() encoded. The caller must not modify it.
func (r *registry) nodesBody() []byte {
	_, body := r.snapshot()
	return body
}

// snapshot returns the sorted names and their NODES body, building them
// when stale.
func (r *registry) snapshot() ([]string, []byte) {
	r.mu.RLock()
	s, b := r.sorted, r.body
	r.mu.RUnlock()
	if s != nil {
		return s, b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

// sortedLocked rebuilds the sorted name list and its body when stale. r.mu
// must be held for writing.
func (r *registry) sortedLocked() ([]string, []byte) {
	if r.sorted != nil {
		return r.sorted, r.body
	}
	s := make([]string, 0, len(r.byName))
	for name, reg := range r.byName {
		if reg.info.Discoverable {
			s = append(s, name)
		}
	}
	slices.Sort(s)
	r.sorted, r.body = s, appendNodesBody(nil, s)
	return r.sorted, r.body
}

// all returns every live node, discoverable or not, sorted by name.
func (r *registry) all() []wire.NodeInfo {
	r.mu.RLock()
	out := make([]wire.NodeInfo, 0, len(r.byName))
	for _, reg := range r.byName {
		out = append(out, reg.info)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b wire.NodeInfo) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}
