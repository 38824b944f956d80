package api

import (
	"errors"
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/wasm"
)

// Error codes carried in {"error": "<code>"}. docs/control-api.md lists them.
const (
	CodeBadRequest      = "bad_request"         // a name, version, constraint or header that breaks the rules
	CodeNotWasm         = "not_wasm"            // the bytes are not a WebAssembly binary
	CodeEmpty           = "empty_module"        // no bytes at all
	CodeInvalidModule   = "invalid_module"      // WebAssembly whose structure (or, with check, validation) is broken
	CodeUnsupported     = "unsupported_feature" // a checked upload needs a feature the validator lacks
	CodeDigestMismatch  = "digest_mismatch"     // the bytes do not hash to the digest the client claimed
	CodeTooLarge        = "too_large"           // over the module size limit
	CodeNotFound        = "not_found"           // no such module, version or endpoint
	CodeConflict        = "conflict"            // the version exists with other bytes
	CodeUnauthorized    = "unauthorized"        // missing or wrong bearer token
	CodeCorrupt         = "corrupt"             // the stored bytes do not match their digest
	CodeNoSpace         = "no_space"            // the disk holding the store is full
	CodeUnavailable     = "unavailable"         // the daemon is shutting down
	CodeBusy            = "busy"                // over a cap (uploads or connections in flight): try again later
	CodeForbiddenHost   = "forbidden_host"      // a Host header that is not this server's (DNS rebinding guard)
	CodeForbiddenOrigin = "forbidden_origin"    // an Origin header of another origin (cross-origin guard)
	CodeForbiddenPeer   = "forbidden_peer"      // over the Unix socket, a user other than gpmd's own or root
	CodeInternal        = "internal"            // anything else
)

// ErrNotRunning: nothing answers at the control address. It is narrower
// than errdefs.ErrUnavailable (which it wraps): the CLI gives it an exit
// status of its own.
var ErrNotRunning = errdefs.Narrow("gpmd is not running", errdefs.ErrUnavailable)

// ErrBusy: a cap of the server is reached (uploads or connections in
// flight); the request may be tried again later. It is an
// errdefs.ErrUnavailable with a code of its own.
var ErrBusy = errdefs.Narrow("gpmd is busy", errdefs.ErrUnavailable)

// ErrForbiddenHost and ErrForbiddenOrigin: the origin guard refused the
// request (a foreign Host or Origin header), whatever its token. They
// belong to no errdefs class: nothing the caller can fix but where the
// request comes from.
var (
	ErrForbiddenHost   = errors.New("forbidden host")
	ErrForbiddenOrigin = errors.New("forbidden origin")
)

// ErrForbiddenPeer: over the Unix socket, the kernel says the client is
// neither the daemon's user nor root. It is an errdefs.ErrUnauthorized
// (the CLI's exit status 6) with a code of its own.
var ErrForbiddenPeer = errdefs.Narrow("forbidden peer", errdefs.ErrUnauthorized)

// ClassOf is the server's statusOf inverse, used by the client: the error
// class that a code stands for, so that errors.Is(err, errdefs.ErrNotFound)
// holds for a 404, and errors.Is(err, errdefs.ErrNotWasm) for a not_wasm.
func ClassOf(code string, status int) error {
	switch code {
	case CodeBadRequest:
		return errdefs.ErrInvalid
	case CodeNotWasm:
		return errdefs.ErrNotWasm
	case CodeEmpty:
		return errdefs.ErrEmpty
	case CodeInvalidModule:
		return wasm.ErrInvalidModule
	case CodeUnsupported:
		return errors.ErrUnsupported
	case CodeDigestMismatch:
		return errdefs.ErrCorrupt
	case CodeTooLarge:
		return errdefs.ErrTooLarge
	case CodeNotFound:
		return errdefs.ErrNotFound
	case CodeConflict:
		return errdefs.ErrConflict
	case CodeUnauthorized:
		return errdefs.ErrUnauthorized
	case CodeCorrupt:
		return errdefs.ErrModuleCorrupt
	case CodeNoSpace:
		return errdefs.ErrNoSpace
	case CodeUnavailable:
		return errdefs.ErrUnavailable
	case CodeBusy:
		return ErrBusy
	case CodeForbiddenHost:
		return ErrForbiddenHost
	case CodeForbiddenOrigin:
		return ErrForbiddenOrigin
	case CodeForbiddenPeer:
		return ErrForbiddenPeer
	}
	// An unknown code (a newer daemon): fall back on the status (as
	// numbers: this package must not link net/http, see its doc).
	switch status {
	case 400:
		return errdefs.ErrInvalid
	case 404:
		return errdefs.ErrNotFound
	case 409:
		return errdefs.ErrConflict
	case 413:
		return errdefs.ErrTooLarge
	case 401:
		return errdefs.ErrUnauthorized
	case 503:
		return errdefs.ErrUnavailable
	case 507:
		return errdefs.ErrNoSpace
	}
	return nil
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// APIError is an error response received by the client.
type APIError struct {
	Status  int    // HTTP status
	Code    string // the "error" field
	Message string // the "message" field
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Code, e.Status)
}

// Unwrap gives the error class of the code, for errors.Is.
func (e *APIError) Unwrap() error { return ClassOf(e.Code, e.Status) }

// NotRunningError says that nothing answers at Addr. It wraps ErrNotRunning
// and the dial error.
type NotRunningError struct {
	Addr string
	Err  error
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("gpmd is not running at %s (start it with: gpmd start)", e.Addr)
}

func (e *NotRunningError) Unwrap() []error { return []error{ErrNotRunning, e.Err} }

// SocketDeniedError says that the file system refused the connection to
// the control socket at Path (it is the daemon user's, mode 0600). It is
// an errdefs.ErrUnauthorized.
type SocketDeniedError struct {
	Path string
	Err  error
}

func (e *SocketDeniedError) Error() string {
	return fmt.Sprintf("permission denied on gpmd's control socket %s: it answers only to the user running gpmd and root", e.Path)
}

func (e *SocketDeniedError) Unwrap() []error { return []error{errdefs.ErrUnauthorized, e.Err} }
