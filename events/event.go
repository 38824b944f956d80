package events

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Topic names, as GMP.md and the control API spell them.
const (
	TopicNodes   = "nodes"
	TopicModules = "modules"
)

// Event kinds (the "event" field).
const (
	Registered   = "registered"   // nodes: a discoverable node registered
	Unregistered = "unregistered" // nodes: it left (UNREGISTER or its connection closed)
	Uploaded     = "uploaded"     // modules: a new version was stored
	Removed      = "removed"      // modules: a version was removed
	Latest       = "latest"       // modules: what a blank MODULE_REQUEST gets changed
	Overflow     = "overflow"     // either: this subscriber's queue was dropped
)

// Topics is a set of topics.
type Topics uint8

// The topics, as set members. FleetNodes is not a topic of its own but the
// fleet scope of nodes (GMP.md: SUBSCRIBE with "scope": "fleet"): the node
// events of other devices (Event.Device set). It has no name: a
// subscription that holds it holds Nodes too, and removing Nodes removes
// it.
const (
	Nodes Topics = 1 << iota
	Modules
	FleetNodes

	AllTopics = Nodes | Modules
)

// ParseTopics reads topic names; an unknown name is errdefs.ErrInvalid.
// No names is no topic.
func ParseTopics(names []string) (Topics, error) {
	var t Topics
	for _, n := range names {
		switch n {
		case TopicNodes:
			t |= Nodes
		case TopicModules:
			t |= Modules
		default:
			return 0, fmt.Errorf("%w: unknown topic %q (topics are %s and %s)", errdefs.ErrInvalid, n, TopicNodes, TopicModules)
		}
	}
	return t, nil
}

// ParseTopicList reads "nodes,modules" (spaces allowed; empty: every topic).
func ParseTopicList(s string) (Topics, error) {
	if strings.TrimSpace(s) == "" {
		return AllTopics, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return ParseTopics(parts)
}

// Names lists the set's topics in a fixed order; never nil.
func (t Topics) Names() []string {
	out := []string{}
	if t&Nodes != 0 {
		out = append(out, TopicNodes)
	}
	if t&Modules != 0 {
		out = append(out, TopicModules)
	}
	return out
}

// topicOf is the set holding the named topic (0 for an unknown name).
func topicOf(name string) Topics {
	switch name {
	case TopicNodes:
		return Nodes
	case TopicModules:
		return Modules
	}
	return 0
}

// member is the set member e is delivered under: a node event of another
// device is FleetNodes, so only fleet-scope subscriptions see it.
func (e *Event) member() Topics {
	t := topicOf(e.Topic)
	if t == Nodes && e.Device != "" {
		return FleetNodes
	}
	return t
}

// Event is one event, the body of a GMP EVENT and the data of an SSE
// event. Which fields it carries depends on Event (see MarshalJSON); an
// event is never changed once published, so pointers to it are shared.
type Event struct {
	Seq   uint64 `json:"seq"`
	Topic string `json:"topic"`
	Event string `json:"event"`
	Name  string `json:"name,omitempty"`
	// Device: for a node of another device of the fleet, its device; Name
	// is then name@device (GMP.md, fleet scope). Empty for this device's
	// nodes.
	Device string `json:"device,omitempty"`
	// Nodes: the node's id, address and port (address and port for
	// registered only).
	ID      string `json:"id,omitempty"`
	Address string `json:"address,omitempty"`
	Port    int    `json:"port,omitempty"`
	// Modules: the version (as uploaded), its digest and size (size for
	// uploaded only). For latest, Version and Hash are "" when the name has
	// no version left.
	Version string `json:"version,omitempty"`
	Hash    string `json:"hash,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

// AppendJSON appends the event as the JSON object GMP.md gives for its
// kind: exactly the fields the kind carries (latest keeps an empty
// version and hash, which a struct tag would drop).
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"topic":`...)
	b = wire.AppendString(b, e.Topic)
	b = append(b, `,"event":`...)
	b = wire.AppendString(b, e.Event)
	str := func(b []byte, key, v string) []byte {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		return wire.AppendString(b, v)
	}
	switch e.Event {
	case Registered:
		b = str(b, "name", e.Name)
		if e.Device != "" {
			b = str(b, "device", e.Device)
		}
		b = str(b, "id", e.ID)
		b = str(b, "address", e.Address)
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(e.Port), 10)
	case Unregistered:
		b = str(b, "name", e.Name)
		if e.Device != "" {
			b = str(b, "device", e.Device)
		}
		b = str(b, "id", e.ID)
	case Uploaded:
		b = str(b, "name", e.Name)
		b = str(b, "version", e.Version)
		b = str(b, "hash", e.Hash)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, e.Size, 10)
	case Removed, Latest:
		b = str(b, "name", e.Name)
		b = str(b, "version", e.Version)
		b = str(b, "hash", e.Hash)
	}
	return append(b, '}')
}

// MarshalJSON is AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil), nil }

// String is one line for people: "42 nodes registered node-1 (id a1) at 127.0.0.1:40001".
func (e *Event) String() string {
	head := strconv.FormatUint(e.Seq, 10) + " " + e.Topic + " " + e.Event
	switch e.Event {
	case Registered:
		return fmt.Sprintf("%s %s (id %s) at %s:%d", head, e.Name, e.ID, e.Address, e.Port)
	case Unregistered:
		return fmt.Sprintf("%s %s (id %s)", head, e.Name, e.ID)
	case Uploaded:
		return fmt.Sprintf("%s %s@%s %s (%d B)", head, e.Name, e.Version, e.Hash, e.Size)
	case Removed:
		return fmt.Sprintf("%s %s@%s %s", head, e.Name, e.Version, e.Hash)
	case Latest:
		if e.Version == "" {
			return fmt.Sprintf("%s %s: no version left", head, e.Name)
		}
		return fmt.Sprintf("%s %s is now %s %s", head, e.Name, e.Version, e.Hash)
	case Overflow:
		return head + ": events were dropped; resync"
	}
	return head
}

// ErrGone: a resume names a seq whose successors the history no longer
// holds, or one this process never issued (it restarted). The reader must
// resync. It is an errdefs.ErrNotFound.
var ErrGone error = &goneError{}

type goneError struct{}

func (*goneError) Error() string {
	return "events before the resume point are no longer held; resync"
}
func (*goneError) Unwrap() error { return errdefs.ErrNotFound }
