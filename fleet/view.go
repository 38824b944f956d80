package fleet

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
)

// EventKind says what happened to a remote node.
type EventKind int

const (
	// NodeRegistered: a remote node became visible, or its entry changed
	// (then an NodeUnregistered of the old entry comes first).
	NodeRegistered EventKind = iota + 1
	// NodeUnregistered: a remote node is no longer served (deleted,
	// expired, its device gone, or the fleet unreachable for the expiry).
	NodeUnregistered
)

func (k EventKind) String() string {
	switch k {
	case NodeRegistered:
		return "registered"
	case NodeUnregistered:
		return "unregistered"
	}
	return "unknown"
}

// Event is a change of one remote node, discoverable or not: a consumer
// that follows GMP's rule (events concern discoverable nodes only) filters
// on Node.Discoverable.
type Event struct {
	Kind EventKind
	Node fleetinfo.RemoteNode
}

// remoteNode is a node entry with the local time it was last refreshed.
type remoteNode struct {
	node     fleetinfo.RemoteNode
	lastSeen time.Time
}

// remoteDevice is a device entry with its nodes.
type remoteDevice struct {
	entry    deviceEntry
	present  bool // the device entry itself is in the bucket
	lastSeen time.Time
	nodes    map[string]remoteNode
}

// state is the bucket's content as far as it is served: other devices
// only, every value validated.
type state map[string]*remoteDevice

func (s state) device(name string) *remoteDevice {
	d := s[name]
	if d == nil {
		d = &remoteDevice{nodes: map[string]remoteNode{}}
		s[name] = d
	}
	return d
}

// served lists what state serves: the nodes of devices whose entry is
// present.
func (s state) served(yield func(fleetinfo.RemoteNode) bool) {
	for _, d := range s {
		if !d.present {
			continue
		}
		for _, n := range d.nodes {
			if !yield(n.node) {
				return
			}
		}
	}
}

// view is the local copy of the bucket. Every query reads it under mu and
// never waits on NATS. Changes come from one watcher generation at a time.
type view struct {
	// applyMu serialises changes and the delivery of their events, so
	// OnEvent sees them in order and may itself query the view.
	applyMu sync.Mutex
	onEvent func(Event)

	// mu guards every field below.
	mu  sync.Mutex
	gen uint64 // the watcher generation allowed to change the state
	st  state
	// nodes and names are the sorted discoverable lists, rebuilt lazily
	// after a change (nil when stale) and shared read-only with callers.
	nodes []fleetinfo.RemoteNode
	names []string
	// version rises with every change of what is served, so a caller can
	// cache what it derives from the lists (an encoded NODES reply).
	version uint64
}

func newView(onEvent func(Event)) *view {
	return &view{onEvent: onEvent, st: state{}}
}

// change runs fn on the state when gen is current, then delivers the
// events it returns. gen 0 always applies (sweeps, clears).
func (v *view) change(gen uint64, fn func(st state) []Event) {
	v.applyMu.Lock()
	defer v.applyMu.Unlock()
	v.mu.Lock()
	if gen != 0 && gen != v.gen {
		v.mu.Unlock()
		return
	}
	evs := fn(v.st)
	if len(evs) > 0 {
		v.nodes, v.names = nil, nil
	}
	if v.nodes == nil {
		v.version++
	}
	v.mu.Unlock()
	if v.onEvent != nil {
		for _, e := range evs {
			v.onEvent(e)
		}
	}
}

// newGen starts a watcher generation: changes of older ones are ignored.
func (v *view) newGen() uint64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.gen++
	return v.gen
}

// replace swaps the whole state for a fresh snapshot, with the events that
// turn the old into the new.
func (v *view) replace(gen uint64, next state) {
	v.change(gen, func(st state) []Event {
		old := map[[2]string]fleetinfo.RemoteNode{}
		for n := range st.served {
			old[[2]string{n.Device, n.Name}] = n
		}
		var gone, came []Event
		for n := range next.served {
			k := [2]string{n.Device, n.Name}
			if o, ok := old[k]; ok {
				delete(old, k)
				if o == n {
					continue
				}
				gone = append(gone, Event{NodeUnregistered, o})
			}
			came = append(came, Event{NodeRegistered, n})
		}
		for _, o := range old {
			gone = append(gone, Event{NodeUnregistered, o})
		}
		clear(st)
		maps.Copy(st, next)
		// The snapshot may differ in entries that are not served (a device
		// entry missing), so the lists are rebuilt whatever the events.
		v.nodes, v.names = nil, nil
		return append(gone, came...)
	})
}

// apply is one update from the watcher of generation gen.
func (v *view) apply(gen uint64, u update) {
	v.change(gen, func(st state) []Event { return u.applyTo(st, time.Now()) })
}

// sweep drops what was not refreshed since cutoff (the fallback for
// servers without expiry markers, and for a fleet unreachable too long).
func (v *view) sweep(cutoff time.Time) {
	v.change(0, func(st state) []Event {
		var evs []Event
		for name, d := range st {
			if d.present && d.lastSeen.Before(cutoff) {
				evs = append(evs, dropDevice(st, name)...)
				continue
			}
			for nn, n := range d.nodes {
				if n.lastSeen.Before(cutoff) {
					delete(d.nodes, nn)
					if d.present {
						evs = append(evs, Event{NodeUnregistered, n.node})
					}
				}
			}
			if !d.present && len(d.nodes) == 0 {
				delete(st, name)
			}
		}
		return evs
	})
}

// dropDevice removes a device and its nodes, returning the events.
func dropDevice(st state, name string) []Event {
	d := st[name]
	if d == nil {
		return nil
	}
	var evs []Event
	if d.present {
		for _, n := range d.nodes {
			evs = append(evs, Event{NodeUnregistered, n.node})
		}
	}
	delete(st, name)
	return evs
}

// sortedLocked rebuilds the discoverable lists when stale. v.mu held.
func (v *view) sortedLocked() ([]fleetinfo.RemoteNode, []string) {
	if v.nodes != nil {
		return v.nodes, v.names
	}
	type named struct {
		full string
		node fleetinfo.RemoteNode
	}
	all := make([]named, 0, 64)
	for n := range v.st.served {
		if n.Discoverable {
			all = append(all, named{n.FullName(), n})
		}
	}
	// Sorted as the strings name@device compare (GMP.md: the NODES list
	// is sorted as a whole), so a caller merges them with its local names
	// by plain string order.
	slices.SortFunc(all, func(a, b named) int { return cmp.Compare(a.full, b.full) })
	nodes := make([]fleetinfo.RemoteNode, len(all))
	names := make([]string, len(all))
	for i, n := range all {
		nodes[i], names[i] = n.node, n.full
	}
	v.nodes, v.names = nodes, names
	return nodes, names
}

func (v *view) discover() []fleetinfo.RemoteNode {
	v.mu.Lock()
	defer v.mu.Unlock()
	n, _ := v.sortedLocked()
	return n
}

func (v *view) discoverNames() []string {
	names, _ := v.namesVersion()
	return names
}

// namesVersion returns the sorted names and the version they belong to.
func (v *view) namesVersion() ([]string, uint64) {
	v.mu.Lock()
	defer v.mu.Unlock()
	_, s := v.sortedLocked()
	return s, v.version
}

// snapshot runs fn with the sorted names while no change is applied, so
// fn sits between two changes (see Fleet.Snapshot).
func (v *view) snapshot(fn func(names []string)) {
	v.applyMu.Lock()
	defer v.applyMu.Unlock()
	fn(v.discoverNames())
}

func (v *view) lookup(name, device string) (fleetinfo.RemoteNode, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := v.st[device]
	if d == nil || !d.present {
		return fleetinfo.RemoteNode{}, false
	}
	n, ok := d.nodes[name]
	return n.node, ok
}

// counts returns the devices whose entry is present, sorted, and the
// number of nodes served.
func (v *view) counts() (devices []string, nodes int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, d := range v.st {
		if d.present {
			devices = append(devices, name)
			nodes += len(d.nodes)
		}
	}
	slices.Sort(devices)
	return devices, nodes
}
