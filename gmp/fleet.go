package gmp

import (
	"net"
	"strings"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Fleet is what the server needs of the fleet layer (*fleet.Fleet
// satisfies it): somewhere to report this device's registrations, and a
// local copy of the other devices' nodes that answers without waiting on
// the network (package fleet's guarantees).
type Fleet interface {
	// Register publishes a local node; it never blocks.
	Register(n fleet.Node) error
	// Unregister withdraws a local node; it never blocks.
	Unregister(name string)
	// NamesVersion is the other devices' discoverable nodes as sorted
	// name@device, with a version that moves whenever the list may have.
	NamesVersion() ([]string, uint64)
	// Lookup finds name on device; a miss wraps errdefs.ErrNotFound and
	// says when the fleet is unreachable.
	Lookup(name, device string) (fleetinfo.RemoteNode, error)
	// Snapshot runs fn with the names of NamesVersion at an instant
	// between two changes, whose events (FleetEvents) are published
	// outside fn: SUBSCRIBE with fleet scope starts its subscription in
	// it.
	Snapshot(fn func(names []string))
}

var _ Fleet = (*fleet.Fleet)(nil)

// FleetEvents is the fleet.Config.OnEvent that publishes the other
// devices' node changes to hub, the hub of the server the fleet is given
// to: node events named name@device and carrying device, which only
// fleet-scope subscriptions receive (events.FleetNodes). As for this
// device's nodes, only discoverable nodes cause events. The fleet calls it
// in order, under the lock Fleet.Snapshot holds, so a subscription started
// in a Snapshot sees each change once.
func FleetEvents(hub *events.Hub) func(fleet.Event) {
	return func(e fleet.Event) {
		n := e.Node
		if !n.Discoverable {
			return
		}
		ev := events.Event{Topic: events.TopicNodes, Name: n.FullName(), Device: n.Device, ID: n.ID}
		switch e.Kind {
		case fleet.NodeRegistered:
			ev.Event, ev.Address, ev.Port = events.Registered, n.Address, n.Port
		case fleet.NodeUnregistered:
			ev.Event = events.Unregistered
		default:
			return
		}
		hub.Publish(ev)
	}
}

// fleetNodes is an encoded NODES body of a DISCOVER with fleet scope, and
// what it was made from: the registry's sorted slice (a built slice is
// never changed, so the same backing array means the same names) and the
// fleet's version. Encoding 3,000 names costs far more than answering a
// device-scope DISCOVER, so the body is reused until either side moves.
type fleetNodes struct {
	local   []string
	version uint64
	body    []byte
}

// publishLocked reports a new registration to the fleet. It is called
// under r.mu so that the fleet sees one name's registrations and leaves in
// the order the registry made them (a leave reported after the next
// registration of the name would withdraw a live node).
func (r *registry) publishLocked(info wire.NodeInfo) {
	if r.fleet == nil {
		return
	}
	// The registry validated the node against the same GMP rules, so an
	// error here is a programming error; the node is still served locally.
	_ = r.fleet.Register(fleet.Node{Name: info.Name, ID: info.ID, Port: info.Port, Discoverable: info.Discoverable})
}

// withdrawLocked reports a leave to the fleet; r.mu is held (see
// publishLocked).
func (r *registry) withdrawLocked(name string) {
	if r.fleet != nil {
		r.fleet.Unregister(name)
	}
}

// discoverFleet answers a DISCOVER whose body names a scope other than the
// device's: answered is false for no scope or "device" (the caller answers
// as revision 1 does), and goOn is whether the connection goes on.
func (c *conn) discoverFleet(env envelope) (answered, goOn bool) {
	if len(env.body) <= 2 { // absent or {}: the hot path of revision 1
		return false, true
	}
	scope, rerr := stringField(env.body, "scope", false)
	if rerr != nil {
		return true, c.replyError(env.id, rerr.code, rerr.msg)
	}
	switch scope {
	case "", wire.ScopeDevice:
		return false, true
	case wire.ScopeFleet:
	default:
		return true, c.replyError(env.id, wire.ErrCodeBadRequest, `scope "`+scope+`": "device" or "fleet"`)
	}
	if c.s.cfg.Fleet == nil {
		// GMP.md: fleet scope on a GPMD that is not in a fleet lists
		// this device only.
		return false, true
	}
	if err := c.enc.replyShared(wire.TypeNode, wire.CodeNodes, env.id, c.s.fleetNodesBody()); err != nil {
		c.writeFailed(err)
		return true, false
	}
	return true, true
}

// replyShared writes a reply whose body is already encoded and shared
// between connections (the cached fleet NODES body, tens of KiB): the
// envelope's head, the body and the closing bytes go out one after the
// other under the write lock, so the body is never copied into a
// per-connection buffer (which would be grown and dropped on every reply,
// being larger than the buffer kept between replies).
//
// The head goes first through writeLocked, which sets the write deadline;
// body and end follow in one writev under that same fresh deadline.
func (e *encoder) replyShared(typ, code int, id, body []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	head := wire.AppendHeader(e.buf[:0], typ, code, id)
	e.buf = head[:0]
	if err := e.writeLocked(head); err != nil {
		return err
	}
	bufs := net.Buffers{body, replyEnd}
	_, err := bufs.WriteTo(e.conn)
	return err
}

// replyEnd closes a reply's envelope and line.
var replyEnd = []byte("}\n")

// fleetNodesBody is the encoded NODES body of a fleet-scope DISCOVER:
// local bare names and remote name@device, sorted, from the cache while
// neither list moved.
func (s *Server) fleetNodesBody() []byte {
	local := s.reg.discoverable()
	remote, version := s.cfg.Fleet.NamesVersion()
	if p := s.fleetCache.Load(); p != nil && p.version == version && sameSlice(p.local, local) {
		return p.body
	}
	body := appendNodesBody(nil, fleet.MergeNames(local, remote))
	s.fleetCache.Store(&fleetNodes{local: local, version: version, body: body})
	return body
}

// sameSlice reports whether a and b are the same slice (backing array and
// length), not merely equal.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// connectFleet answers a CONNECT of name@device. This device's own name
// means a local node; another device's is looked up in the fleet's copy,
// never waiting on the network.
func (c *conn) connectFleet(env envelope, full string) bool {
	at := strings.LastIndexByte(full, '@')
	name, device := full[:at], full[at+1:]
	notFound := func(msg string) bool {
		return c.reply(wire.TypeNode, wire.CodeNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, wire.ErrCodeNotFound, msg)
		})
	}
	if device != "" && device == c.s.cfg.Device {
		info, ok := c.s.reg.lookup(name)
		if !ok {
			return notFound("no live node named " + full)
		}
		n := wire.Node{Name: info.Name, ID: info.ID, Address: info.Address, Port: info.Port, Device: device}
		return c.reply(wire.TypeNode, wire.CodeNode, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
	}
	if c.s.cfg.Fleet == nil {
		return notFound("no live node named " + full + ": this GPMD is not in a fleet")
	}
	rn, err := c.s.cfg.Fleet.Lookup(name, device)
	if err != nil {
		return notFound(err.Error())
	}
	n := wire.Node{Name: rn.Name, ID: rn.ID, Address: rn.Address, Port: rn.Port, Device: rn.Device}
	return c.reply(wire.TypeNode, wire.CodeNode, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
}
