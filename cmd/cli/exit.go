package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/spf13/cobra"
)

// Exit statuses of every gpmd command. exitCode maps error classes to
// them: the one place where that happens.
const (
	exitOK           = 0
	exitError        = 1   // anything not listed below
	exitUsage        = 2   // bad flags, arguments or input (a bad name or version, not WebAssembly, empty, too large)
	exitNotRunning   = 3   // gpmd is not running (or not at the address given)
	exitNotFound     = 4   // no such module or version
	exitConflict     = 5   // the version exists with other bytes
	exitUnauthorized = 6   // the daemon refused the token, or this user on its socket
	exitProblems     = 7   // verify found problems; restore or import left something out
	exitInterrupted  = 130 // stopped by Ctrl-C
)

// exitStatusHelp is the "Exit status" section of every command's --help.
const exitStatusHelp = `Exit status:
  0    success
  1    an error not listed below (the message says what)
  2    bad flags, arguments or input: a bad name or version, a file that is
       missing, a directory, empty, not WebAssembly, a broken WebAssembly
       binary (invalid_module) or too large
  3    gpmd is not running (at the control address or on the data folder)
  4    no such module or version
  5    the version exists already with other bytes
  6    gpmd refused the token (see --token-file), or this user on its
       control socket
  7    verify found a problem in the store, check found the module
       invalid, or restore, rebuild-index or import left something out
       (each is listed on standard output)
  130  interrupted`

// exitCode maps an error to its exit status: the one place where that
// happens. The CLI's own errors and the narrow ones (not running, a
// non-empty restore target) come first; then every errdefs class has a
// deliberate status (TestExitCodeOfEveryClass).
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, new(*problemsError)):
		return exitProblems
	case errors.Is(err, errdefs.ErrNotEmpty):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, api.ErrNotRunning):
		return exitNotRunning

	case errors.Is(err, errdefs.ErrUnauthorized):
		return exitUnauthorized
	case errors.Is(err, errdefs.ErrCorrupt):
		// Corrupt bytes are the store's fault, not the caller's.
		return exitError
	case errors.Is(err, errdefs.ErrNotFound):
		return exitNotFound
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrExists):
		return exitConflict
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrTooLarge):
		return exitUsage
	case errors.Is(err, errdefs.ErrNoSpace), errors.Is(err, errdefs.ErrUnavailable):
		// Nothing the caller typed was wrong; the message says what to do.
		return exitError
	default:
		return exitError
	}
}

// usageError is a mistake in how a command was called. Its message ends
// with where to read how to call it.
type usageError struct {
	err     error
	cmdPath string
}

func (e *usageError) Error() string {
	if e.cmdPath == "" {
		return e.err.Error()
	}
	return fmt.Sprintf("%v (see: %s --help)", e.err, e.cmdPath)
}

func (e *usageError) Unwrap() error { return e.err }

// usageErrorf makes a usage error of cmd.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	path := ""
	if cmd != nil {
		path = cmd.CommandPath()
	}
	return &usageError{err: fmt.Errorf(format, args...), cmdPath: path}
}

// inputError is bad input found by the CLI before anything is sent (a file
// that does not exist, a directory): exit status 2, without the --help hint.
func inputErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// oneLine makes err's message a single line for standard error.
func oneLine(err error) string {
	msg := strings.TrimSpace(err.Error())
	msg = strings.ReplaceAll(msg, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", "; ")), " ")
}

// problemsError says that a command ran to its end and found problems,
// which it printed on standard output: exit status 7.
type problemsError struct{ msg string }

func (e *problemsError) Error() string { return e.msg }

func problemsf(format string, args ...any) error {
	return &problemsError{msg: fmt.Sprintf(format, args...)}
}
