package gmp

// Message families (the envelope's "type").
const (
	TypeSession = 0
	TypeNode    = 1
	TypeWasm    = 2
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

// closesConnection reports whether GPMD closes the connection after an
// ERROR with this code (GMP.md, Session).
func closesConnection(code string) bool {
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
}

// Node is the body of REGISTERED and NODE: one live node as GMP shows it.
type Node struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Address string `json:"address"`
	Port    int    `json:"port"`
}

// ModuleInfo is the body of MODULE without its binary.
type ModuleInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"` // as uploaded
	Hash    string `json:"hash"`    // "sha256:" and 64 lower-case hex digits
	Size    int64  `json:"size"`
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

// validNodeName checks GMP.md's rule: 1–64 characters of A–Z a–z 0–9 . _ -,
// beginning with a letter or digit.
func validNodeName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validNodeID checks GMP.md's rule: 1–128 printable ASCII characters
// (0x20 space through 0x7E tilde).
func validNodeID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validPort checks 1–65535.
func validPort(p int64) bool { return p >= 1 && p <= 65535 }
