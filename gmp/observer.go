package gmp

import (
	"time"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// Observer is told what the server does, for metrics (*metrics.Metrics
// satisfies it). Its methods are called on the connections' goroutines:
// they must be safe for concurrent use and must not block.
type Observer interface {
	// ConnAccepted: a connection was accepted (one then refused as busy
	// included).
	ConnAccepted()
	// ConnClosed: a connection ended, for reason (closeReason's words:
	// "peer closed", "busy", "message timeout", …).
	ConnClosed(reason string)
	// Request: a request was answered; message names it (HELLO,
	// MODULE_REQUEST, …; "invalid" for a message with no valid envelope),
	// d runs from its arrival to the end of its reply.
	Request(message string, d time.Duration)
	// ModuleSent: a MODULE reply of a module of bytes bytes was written
	// in full.
	ModuleSent(bytes int64)
}

// nopObserver is the default Observer: it observes nothing.
type nopObserver struct{}

func (nopObserver) ConnAccepted()                 {}
func (nopObserver) ConnClosed(string)             {}
func (nopObserver) Request(string, time.Duration) {}
func (nopObserver) ModuleSent(int64)              {}

// messageName is the GMP.md name of a request, for Observer.Request: a
// bounded set, so that a metric labelled with it stays small whatever
// peers send.
func messageName(typ, code int64) string {
	switch typ {
	case wire.TypeSession:
		switch code {
		case wire.CodeHello:
			return "HELLO"
		case wire.CodePing:
			return "PING"
		}
	case wire.TypeNode:
		switch code {
		case wire.CodeRegister:
			return "REGISTER"
		case wire.CodeDiscover:
			return "DISCOVER"
		case wire.CodeConnect:
			return "CONNECT"
		case wire.CodeUnregister:
			return "UNREGISTER"
		}
	case wire.TypeWasm:
		switch code {
		case wire.CodeModuleRequest:
			return "MODULE_REQUEST"
		case wire.CodeList:
			return "LIST"
		}
	case wire.TypeEvent:
		switch code {
		case wire.CodeSubscribe:
			return "SUBSCRIBE"
		case wire.CodeUnsubscribe:
			return "UNSUBSCRIBE"
		}
	}
	return "unknown"
}
