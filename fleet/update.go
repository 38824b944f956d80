package fleet

import (
	"fmt"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/nats-io/nats.go/jetstream"
)

type updateOp int

const (
	opPutNode updateOp = iota + 1
	opDelNode
	opPutDevice
	opDelDevice
)

// update is one validated bucket entry, ready to apply to a state.
type update struct {
	op     updateOp
	device string
	name   string // node name for node ops
	node   fleetinfo.RemoteNode
	dev    deviceEntry
}

// parseEntry validates a watcher entry. ok is false for entries of our own
// device, which are never applied (for our node entries u still names the
// node); err says why an entry is rejected.
func parseEntry(self string, e jetstream.KeyValueEntry) (u update, ok bool, err error) {
	pk, err := parseKey(e.Key())
	if err != nil {
		return update{}, false, err
	}
	if pk.device == self {
		// Ours: the local registry is the authority. A node entry is
		// returned, not applied, so the watcher can delete leftovers of a
		// previous run of this device (see Fleet.stray).
		if pk.node != "" && e.Operation() == jetstream.KeyValuePut {
			return update{op: opPutNode, device: pk.device, name: pk.node}, false, nil
		}
		return update{}, false, nil
	}
	u = update{device: pk.device, name: pk.node}
	deleted := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
	switch {
	case pk.node == "" && deleted:
		u.op = opDelDevice
	case pk.node == "":
		u.op = opPutDevice
		if u.dev, err = parseDevice(pk, e.Value()); err != nil {
			return update{}, false, err
		}
	case deleted:
		u.op = opDelNode
	default:
		u.op = opPutNode
		if u.node, err = parseNode(pk, e.Value()); err != nil {
			return update{}, false, err
		}
	}
	return u, true, nil
}

// applyTo changes st and returns the events of nodes whose served state
// changed.
func (u update) applyTo(st state, now time.Time) []Event {
	switch u.op {
	case opPutNode:
		d := st.device(u.device)
		old, had := d.nodes[u.name]
		d.nodes[u.name] = remoteNode{node: u.node, lastSeen: now}
		if !d.present || (had && old.node == u.node) {
			return nil
		}
		if had {
			return []Event{{NodeUnregistered, old.node}, {NodeRegistered, u.node}}
		}
		return []Event{{NodeRegistered, u.node}}
	case opDelNode:
		d := st[u.device]
		if d == nil {
			return nil
		}
		old, had := d.nodes[u.name]
		delete(d.nodes, u.name)
		if !d.present && len(d.nodes) == 0 {
			delete(st, u.device)
		}
		if had && d.present {
			return []Event{{NodeUnregistered, old.node}}
		}
		return nil
	case opPutDevice:
		d := st.device(u.device)
		was := d.present
		d.entry, d.present, d.lastSeen = u.dev, true, now
		if was {
			return nil
		}
		var evs []Event
		for _, n := range d.nodes {
			evs = append(evs, Event{NodeRegistered, n.node})
		}
		return evs
	case opDelDevice:
		// A device whose entry vanished has its node entries dropped too:
		// they are served again only after the device rewrites them.
		return dropDevice(st, u.device)
	}
	panic(fmt.Sprintf("fleet: update op %d", u.op))
}
