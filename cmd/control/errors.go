package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ghost-network/gpmd/repo"
)

// Error codes carried in {"error": "<code>"}. docs/control-api.md lists them.
const (
	CodeBadRequest     = "bad_request"     // a name, version, constraint or header that breaks the rules
	CodeNotWasm        = "not_wasm"        // the bytes are not a WebAssembly binary
	CodeEmpty          = "empty_module"    // no bytes at all
	CodeDigestMismatch = "digest_mismatch" // the bytes do not hash to the digest the client claimed
	CodeTooLarge       = "too_large"       // over the module size limit
	CodeNotFound       = "not_found"       // no such module, version or endpoint
	CodeConflict       = "conflict"        // the version exists with other bytes
	CodeUnauthorized   = "unauthorized"    // missing or wrong bearer token
	CodeCorrupt        = "corrupt"         // the stored bytes do not match their digest
	CodeNoSpace        = "no_space"        // the disk holding the store is full
	CodeUnavailable    = "unavailable"     // the daemon is shutting down
	CodeInternal       = "internal"        // anything else
)

// ErrUnauthorized: the request carried no token or the wrong one.
var ErrUnauthorized = errors.New("unauthorized")

// ErrNotRunning: nothing answers at the control address.
var ErrNotRunning = errors.New("gpmd is not running")

// ErrUnavailable: the daemon is shutting down.
var ErrUnavailable = errors.New("gpmd is shutting down")

// statusOf maps an error class to its HTTP status and error code: the one
// place where this mapping lives. The order matters: the narrow classes
// (not WebAssembly, empty, corrupt) also belong to wider ones.
func statusOf(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, CodeUnauthorized
	case errors.Is(err, repo.ErrCorrupt):
		return http.StatusInternalServerError, CodeCorrupt
	case errors.Is(err, repo.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, CodeTooLarge
	case errors.Is(err, repo.ErrNotWasm):
		return http.StatusBadRequest, CodeNotWasm
	case errors.Is(err, repo.ErrEmpty):
		return http.StatusBadRequest, CodeEmpty
	case errors.Is(err, repo.ErrDigestMismatch):
		// Only an upload's claimed digest reaches here: a stored blob
		// that mismatches is ErrCorrupt above.
		return http.StatusBadRequest, CodeDigestMismatch
	case errors.Is(err, repo.ErrInvalid):
		return http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, repo.ErrNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, repo.ErrConflict):
		return http.StatusConflict, CodeConflict
	case errors.Is(err, repo.ErrNoSpace):
		return http.StatusInsufficientStorage, CodeNoSpace
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, CodeUnavailable
	default:
		return http.StatusInternalServerError, CodeInternal
	}
}

// classOf is statusOf's inverse, used by the client: the error class that a
// code stands for, so that errors.Is(err, repo.ErrNotFound) holds for a 404.
func classOf(code string, status int) error {
	switch code {
	case CodeBadRequest:
		return repo.ErrInvalid
	case CodeNotWasm:
		return repo.ErrNotWasm
	case CodeEmpty:
		return repo.ErrEmpty
	case CodeDigestMismatch:
		return repo.ErrDigestMismatch
	case CodeTooLarge:
		return repo.ErrTooLarge
	case CodeNotFound:
		return repo.ErrNotFound
	case CodeConflict:
		return repo.ErrConflict
	case CodeUnauthorized:
		return ErrUnauthorized
	case CodeCorrupt:
		return repo.ErrCorrupt
	case CodeNoSpace:
		return repo.ErrNoSpace
	case CodeUnavailable:
		return ErrUnavailable
	}
	// An unknown code (a newer daemon): fall back on the status.
	switch status {
	case http.StatusBadRequest:
		return repo.ErrInvalid
	case http.StatusNotFound:
		return repo.ErrNotFound
	case http.StatusConflict:
		return repo.ErrConflict
	case http.StatusRequestEntityTooLarge:
		return repo.ErrTooLarge
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusServiceUnavailable:
		return ErrUnavailable
	case http.StatusInsufficientStorage:
		return repo.ErrNoSpace
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
func (e *APIError) Unwrap() error { return classOf(e.Code, e.Status) }

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
