package main

import (
	"context"
	"errors"
	"strings"

	"github.com/ghost-network/gpmd/errdefs"
)

// Exit statuses of every gvm command. exitCode maps error classes to them:
// the one place where that happens.
const (
	exitOK          = 0
	exitError       = 1   // anything not listed below (a trap, for one)
	exitUsage       = 2   // bad flags or arguments; arguments that do not fit the function; a module the GVM cannot run
	exitNotRunning  = 3   // GPMD is not running at the GMP address
	exitNotFound    = 4   // no such module, version, function or node
	exitPeer        = 5   // the peer node is gone or refuses the connection
	exitInterrupted = 130 // stopped by Ctrl-C before the end
)

const exitStatusHelp = `Exit status:
  0    success
  1    an error not listed below, such as a trap
  2    bad flags or arguments, arguments that do not fit the function,
       a module that does not compile or imports what gvm lacks
  3    GPMD is not running at the GMP address (start it with: gpmd start)
  4    no such module, version, function or node
  5    the peer node is gone or refuses the connection
  130  interrupted`

// usageError is a mistake in how a command was called.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// notRunningError: GPMD does not answer at the GMP address.
type notRunningError struct{ addr string }

func (e *notRunningError) Error() string {
	return "gpmd is not running at " + e.addr + " (start it with: gpmd start)"
}

// peerError: the node to call is gone or refuses.
type peerError struct{ err error }

func (e *peerError) Error() string { return e.err.Error() }
func (e *peerError) Unwrap() error { return e.err }

func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(*usageError)):
		return exitUsage
	case errors.As(err, new(*notRunningError)):
		return exitNotRunning
	case errors.As(err, new(*peerError)):
		return exitPeer
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, errdefs.ErrNotFound):
		return exitNotFound
	case errors.Is(err, errdefs.ErrInvalid):
		return exitUsage
	}
	return exitError
}

// oneLine is err as the one line gvm prints for it.
func oneLine(err error) string {
	return "gvm: " + strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", " ")
}
