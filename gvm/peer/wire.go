package peer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// Limits of the protocol.
const (
	// MaxMessage bounds one line, either way.
	MaxMessage = 1 << 20
	// MaxInFlight bounds the calls of one connection that run at once.
	MaxInFlight = 64

	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
	// accept.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Error codes of an answer.
const (
	CodeNotFound    = "not_found"
	CodeBadRequest  = "bad_request"
	CodeTrap        = "trap"
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
)

// request is a call on the wire.
type request struct {
	ID      uint64   `json:"id"`
	Call    string   `json:"call"`
	Version string   `json:"version,omitempty"`
	Args    []string `json:"args"`
}

// response is an answer on the wire: Results, or Error.
type response struct {
	ID      uint64     `json:"id"`
	Results []string   `json:"results,omitempty"`
	Error   *wireError `json:"error,omitempty"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Call is one call as a Handler receives it.
type Call struct {
	Module, Function string
	Version          string // "" for the node's current choice
	Args             []string
}

// SplitTarget splits "module.function" at its first dot.
func SplitTarget(s string) (module, function string, err error) {
	module, function, ok := strings.Cut(s, ".")
	if !ok || module == "" || function == "" {
		return "", "", fmt.Errorf("%q is not MODULE.FUNCTION: %w", s, errdefs.ErrInvalid)
	}
	return module, function, nil
}

// RemoteError is an error answer from the other node. It unwraps to the
// errdefs class of its code, so callers test it with errors.Is.
type RemoteError struct {
	Code, Message string
}

func (e *RemoteError) Error() string { return e.Message }

func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case CodeNotFound:
		return errdefs.ErrNotFound
	case CodeBadRequest:
		return errdefs.ErrInvalid
	case CodeUnavailable:
		return errdefs.ErrUnavailable
	}
	return nil
}

// codeOf maps a handler's error to its wire code: the one place where
// error classes become codes.
func codeOf(err error) string {
	var trap *runner.TrapError
	var remote *RemoteError
	switch {
	case errors.As(err, &remote):
		return remote.Code
	case errors.As(err, &trap):
		return CodeTrap
	case errors.Is(err, errdefs.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, errdefs.ErrInvalid):
		return CodeBadRequest
	case errors.Is(err, errdefs.ErrUnavailable):
		return CodeUnavailable
	}
	return CodeInternal
}
