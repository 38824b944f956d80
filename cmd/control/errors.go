package control

import (
	"context"
	"errors"
	"net/http"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/wasm"
)

// Error codes carried in {"error": "<code>"} (api's; docs/control-api.md
// lists them).
const (
	CodeBadRequest      = api.CodeBadRequest
	CodeNotWasm         = api.CodeNotWasm
	CodeEmpty           = api.CodeEmpty
	CodeInvalidModule   = api.CodeInvalidModule
	CodeUnsupported     = api.CodeUnsupported
	CodeDigestMismatch  = api.CodeDigestMismatch
	CodeTooLarge        = api.CodeTooLarge
	CodeNotFound        = api.CodeNotFound
	CodeConflict        = api.CodeConflict
	CodeUnauthorized    = api.CodeUnauthorized
	CodeCorrupt         = api.CodeCorrupt
	CodeNoSpace         = api.CodeNoSpace
	CodeUnavailable     = api.CodeUnavailable
	CodeBusy            = api.CodeBusy
	CodeForbiddenHost   = api.CodeForbiddenHost
	CodeForbiddenOrigin = api.CodeForbiddenOrigin
	CodeForbiddenPeer   = api.CodeForbiddenPeer
	CodeInternal        = api.CodeInternal
)

// The server's own refusals (api's sentinels, which the client gets back
// from their codes): a cap reached, the origin guard, a foreign peer on
// the socket.
var (
	ErrBusy            = api.ErrBusy
	ErrForbiddenHost   = api.ErrForbiddenHost
	ErrForbiddenOrigin = api.ErrForbiddenOrigin
	ErrForbiddenPeer   = api.ErrForbiddenPeer
)

// statusOf maps an error to its HTTP status and error code: the one place
// where this mapping lives. The narrow storage errors (not WebAssembly,
// empty, an upload's digest mismatch, a corrupt stored module) come first:
// each keeps a code of its own although it also belongs to a wider class.
// Every errdefs class has a deliberate answer (TestStatusOfEveryClass);
// the client maps codes back with api.ClassOf.
func statusOf(err error) (status int, code string) {
	switch {
	case errors.Is(err, ErrForbiddenHost):
		return http.StatusForbidden, CodeForbiddenHost
	case errors.Is(err, ErrForbiddenOrigin):
		return http.StatusForbidden, CodeForbiddenOrigin
	case errors.Is(err, ErrForbiddenPeer):
		return http.StatusForbidden, CodeForbiddenPeer
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, CodeBusy
	case errors.Is(err, errdefs.ErrModuleCorrupt):
		return http.StatusInternalServerError, CodeCorrupt
	case errors.Is(err, errdefs.ErrNotWasm):
		return http.StatusBadRequest, CodeNotWasm
	case errors.Is(err, errdefs.ErrEmpty):
		return http.StatusBadRequest, CodeEmpty
	case errors.Is(err, wasm.ErrInvalidModule):
		return http.StatusBadRequest, CodeInvalidModule
	case errors.Is(err, errors.ErrUnsupported):
		return http.StatusUnprocessableEntity, CodeUnsupported
	case errors.Is(err, errdefs.ErrCorrupt):
		// Only an upload's claimed digest reaches here: a stored blob
		// that mismatches is errdefs.ErrModuleCorrupt above.
		return http.StatusBadRequest, CodeDigestMismatch

	case errors.Is(err, errdefs.ErrUnauthorized):
		return http.StatusUnauthorized, CodeUnauthorized
	case errors.Is(err, errdefs.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, CodeTooLarge
	case errors.Is(err, errdefs.ErrInvalid):
		return http.StatusBadRequest, CodeBadRequest
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound, CodeNotFound
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrExists):
		// A duplicate upload is a success before it gets here; an
		// "exists" that is an error is a conflict with what is there.
		return http.StatusConflict, CodeConflict
	case errors.Is(err, errdefs.ErrNoSpace):
		return http.StatusInsufficientStorage, CodeNoSpace
	case errors.Is(err, errdefs.ErrUnavailable), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, CodeUnavailable
	default:
		return http.StatusInternalServerError, CodeInternal
	}
}
