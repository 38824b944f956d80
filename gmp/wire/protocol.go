package wire

import "github.com/ghost-network/gpmd/wasm"

// Message families (the envelope's "type").
const (
	TypeSession = 0
	TypeNode    = 1
	TypeWasm    = 2
	TypeEvent   = 3 // revision 2, feature "events"
)

// Session messages (type 0).
const (
	CodeHello   = 1
	CodeWelcome = 2
	CodePing    = 3
	CodePong    = 4
	CodeError   = 9
)

// Node messages (type 1).
const (
	CodeRegister       = 1
	CodeRegistered     = 3
	CodeRegisterDenied = 4
	CodeDiscover       = 5
	CodeNodes          = 6
	CodeConnect        = 7
	CodeNode           = 8
	CodeNotFound       = 10
	CodeUnregister     = 11
	CodeUnregistered   = 12
)

// Module messages (type 2).
const (
	CodeModuleRequest  = 1
	CodeModule         = 2
	CodeModuleNotFound = 3
	CodeList           = 4
	CodeModules        = 5
	// Revision 2, feature module_info.
	CodeModuleInfoRequest = 6
	CodeModuleInfo        = 7
)

// Event messages (type 3, revision 2, feature "events").
const (
	CodeSubscribe    = 1
	CodeSubscribed   = 2
	CodeEvent        = 3
	CodeUnsubscribe  = 4
	CodeUnsubscribed = 5
)

// Features a WELCOME may list (GMP.md revision 2): the optional parts of
// the protocol a GPMD implements.
const (
	FeatureEvents     = "events"
	FeatureModuleInfo = "module_info"
	FeatureHave       = "have"
	FeatureFleet      = "fleet"
)

// ProtocolVersion is the one version of GMP this package speaks.
const ProtocolVersion = 1

// Error codes carried in the "error" field of ERROR, REGISTER_DENIED,
// NOT_FOUND and MODULE_NOT_FOUND bodies.
const (
	ErrCodeBadJSON            = "bad_json"
	ErrCodeMessageTooLarge    = "message_too_large"
	ErrCodeUnsupportedVersion = "unsupported_version"
	ErrCodeUnknownMessage     = "unknown_message"
	ErrCodeBadRequest         = "bad_request"
	ErrCodeBusy               = "busy"
	ErrCodeInternal           = "internal"
	ErrCodeNameTaken          = "name_taken"
	ErrCodeAlreadyRegistered  = "already_registered"
	ErrCodeNotFound           = "not_found"
)

// ClosesConnection reports whether GPMD closes the connection after an
// ERROR with this code (GMP.md, Session).
func ClosesConnection(code string) bool {
	switch code {
	case ErrCodeBadJSON, ErrCodeMessageTooLarge, ErrCodeUnsupportedVersion, ErrCodeBusy:
		return true
	}
	return false
}

// Welcome is the body of WELCOME.
type Welcome struct {
	Server     string `json:"server"`
	Version    int    `json:"version"`
	MaxMessage int    `json:"max_message"`
	// Features (revision 2) names the optional parts GPMD implements;
	// absent from a revision 1 GPMD.
	Features []string `json:"features,omitempty"`
}

// Has reports whether WELCOME lists feature f.
func (w Welcome) Has(f string) bool {
	for _, g := range w.Features {
		if g == f {
			return true
		}
	}
	return false
}

// Subscribed is the body of SUBSCRIBED.
type Subscribed struct {
	Topics []string `json:"topics"` // every topic subscribed now
	Seq    uint64   `json:"seq"`    // the last event before the subscription took effect
	// Nodes: the discoverable nodes live at that instant, sorted; present
	// when the subscription includes the nodes topic.
	Nodes []string `json:"nodes,omitempty"`
}

// DISCOVER scopes (GMP.md, Fleet scope): no scope is ScopeDevice.
const (
	ScopeDevice = "device"
	ScopeFleet  = "fleet"
)

// Node is the body of REGISTERED and NODE: one live node as GMP shows it.
type Node struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Device is set in the NODE reply to a CONNECT of name@device: the
	// node's device, whose advertised address Address is.
	Device string `json:"device,omitempty"`
}

// ModuleInfo is the body of MODULE without its binary.
type ModuleInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"` // as uploaded
	Hash    string `json:"hash"`    // "sha256:" and 64 lower-case hex digits
	Size    int64  `json:"size"`
}

// ModuleDetails is the body of MODULE_INFO: what GPMD recorded of a
// module version at upload. Imports and exports are in the order of the
// binary; a func (or tag) carries "params" and "results" (possibly empty
// arrays), and other kinds their type or limits. For a component both
// lists are empty.
type ModuleDetails struct {
	Name    string        `json:"name"`
	Version string        `json:"version"`
	Hash    string        `json:"hash"`
	Size    int64         `json:"size"`
	Kind    string        `json:"kind"` // "module" or "component"
	Imports []wasm.Import `json:"imports"`
	Exports []wasm.Export `json:"exports"`
}

// ModuleVersion is one version in a MODULES reply.
type ModuleVersion struct {
	Version string `json:"version"`
	Hash    string `json:"hash"`
	Size    int64  `json:"size"`
}

// ModuleEntry is one name in a MODULES reply, its versions highest first.
type ModuleEntry struct {
	Name     string          `json:"name"`
	Versions []ModuleVersion `json:"versions"`
}
