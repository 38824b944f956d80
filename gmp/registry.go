package gmp

import (
	"slices"
	"sync"
	"time"
)

// registry holds the live nodes. A registration belongs to one connection
// and lives exactly as long as that connection (or until UNREGISTER): the
// connection's goroutine removes it before the socket is closed.
type registry struct {
	// fleet, when not nil, is told of every registration and leave, under
	// mu (see publishLocked). Set once, before the server serves.
	fleet  Fleet
	mu     sync.RWMutex             // guards byName and sorted
	byName map[string]*registration // live nodes by name
	// sorted is the discoverable names in order, nil when stale. A built
	// slice is never mutated, so readers may keep it after unlocking.
	sorted []string
}

type registration struct {
	info  NodeInfo
	owner *conn // the connection it lives on
}

func newRegistry() *registry {
	return &registry{byName: make(map[string]*registration)}
}

// register adds info for owner; ok is false when the name is live (on any
// connection, the owner's own included).
//
// A name whose holder's peer has already closed its connection is not
// live: the holder's goroutine has not read the end yet, but will end the
// registration as soon as it does. Such a name is freed here rather than
// answered with name_taken, so that a node that closes and at once
// registers again on a new connection gets its name back (GMP.md: the
// name is free again "at once" when the connection closes).
func (r *registry) register(info NodeInfo, owner *conn) (reg *registration, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, taken := r.byName[info.Name]; taken {
		if cur.owner == nil || !peerClosed(cur.owner.nc) {
			return nil, false
		}
		// The holder's own close finds its node gone and does nothing.
		cur.owner.node.CompareAndSwap(cur, nil)
		r.removeLocked(cur)
	}
	if info.Since.IsZero() {
		info.Since = time.Now()
	}
	reg = &registration{info: info, owner: owner}
	r.byName[info.Name] = reg
	if info.Discoverable {
		r.sorted = nil
	}
	r.publishLocked(info)
	return reg, true
}

// unregister removes reg if it is still the live registration of its name.
func (r *registry) unregister(reg *registration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.byName[reg.info.Name]; ok && cur == reg {
		r.removeLocked(reg)
	}
}

// removeLocked deletes the live registration reg. r.mu must be held.
func (r *registry) removeLocked(reg *registration) {
	delete(r.byName, reg.info.Name)
	if reg.info.Discoverable {
		r.sorted = nil
	}
	r.withdrawLocked(reg.info.Name)
}

// lookup finds the live node called name, discoverable or not.
func (r *registry) lookup(name string) (NodeInfo, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	reg, ok := r.byName[name]
	if !ok {
		return NodeInfo{}, false
	}
	return reg.info, true
}

// discoverable returns the names of the discoverable live nodes, sorted.
// The caller must not modify the slice: it is shared until the next change.
func (r *registry) discoverable() []string {
	r.mu.RLock()
	s := r.sorted
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sortedLocked()
}

// sortedLocked rebuilds the sorted name list when stale. r.mu must be held
// for writing.
func (r *registry) sortedLocked() []string {
	if r.sorted != nil {
		return r.sorted
	}
	s := make([]string, 0, len(r.byName))
	for name, reg := range r.byName {
		if reg.info.Discoverable {
			s = append(s, name)
		}
	}
	slices.Sort(s)
	r.sorted = s
	return s
}

// all returns every live node, discoverable or not, sorted by name.
func (r *registry) all() []NodeInfo {
	r.mu.RLock()
	out := make([]NodeInfo, 0, len(r.byName))
	for _, reg := range r.byName {
		out = append(out, reg.info)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b NodeInfo) int {
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
