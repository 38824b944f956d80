package api

import (
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// The scopes of the event stream (scope=…), as GMP names them.
const (
	ScopeDevice = wire.ScopeDevice
	ScopeFleet  = wire.ScopeFleet
)

// Names of the event stream's own SSE events (the events of the hub carry
// no SSE event name, so that a plain EventSource onmessage gets them all).
const (
	StreamSubscribed = "subscribed" // the first message of a fresh stream
	StreamResync     = "resync"     // the first message of a resume that came too late
)

// StreamStart is the data of the first message of a stream: what a GMP
// SUBSCRIBED says, plus, for resync, why.
type StreamStart struct {
	Topics []string `json:"topics"`
	// Scope is "fleet" when the stream's nodes are the fleet's (scope=fleet);
	// absent for this device's.
	Scope   string   `json:"scope,omitempty"`
	Seq     uint64   `json:"seq"`
	Nodes   []string `json:"nodes,omitempty"`
	Message string   `json:"message,omitempty"`
}

// StreamMessage is one message of the event stream as the client reads
// it: the stream's first message (Start, with Kind StreamSubscribed or
// StreamResync) or an event (Kind "").
type StreamMessage struct {
	Kind  string
	Start StreamStart
	Event events.Event
}
