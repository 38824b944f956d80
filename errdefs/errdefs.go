// Package errdefs holds GPMD's error classes: the one vocabulary in which
// every package says what kind of failure happened, whatever the subject.
//
// A package wraps a class with its subject, e.g.
//
//	fmt.Errorf("module %s@%s: %w", name, version, errdefs.ErrNotFound)
//
// and callers test the class with errors.Is (or the Is helpers below). Each
// surface maps classes to its own codes in exactly one function: HTTP
// statuses in cmd/control (statusOf), CLI exit statuses in cmd/cli
// (exitCode) and GMP error codes in gmp (errorCodeOf). A package may define
// a narrower error of its own (repo's "not WebAssembly") as long as it
// wraps one of these classes, so the mappings stay total.
//
// The classes follow containerd's errdefs: few, broad, and stable.
package errdefs

import "errors"

var (
	// ErrNotFound: the named thing (module, version, blob, node) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: the thing exists already. Where re-creating it with the
	// same content is harmless (a duplicate upload) callers treat it as success.
	ErrExists = errors.New("already exists")
	// ErrConflict: the thing exists with other content (a version's bytes
	// never change), or the request conflicts with the current state.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input breaks a rule: a bad name, version, digest,
	// constraint, or bytes that are not what they claim to be.
	ErrInvalid = errors.New("invalid")
	// ErrCorrupt: stored or received bytes do not hash to their digest.
	ErrCorrupt = errors.New("digest mismatch")
	// ErrTooLarge: over a size limit.
	ErrTooLarge = errors.New("too large")
	// ErrNoSpace: the disk is full.
	ErrNoSpace = errors.New("no space left on device")
	// ErrUnavailable: the service cannot answer now (stopping, busy, not
	// running, locked by another process); the same call may work later.
	ErrUnavailable = errors.New("unavailable")
	// ErrUnauthorized: the caller did not prove who it is, or may not do this.
	ErrUnauthorized = errors.New("unauthorized")
)

// IsNotFound reports whether err is of class ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsExists reports whether err is of class ErrExists.
func IsExists(err error) bool { return errors.Is(err, ErrExists) }

// IsConflict reports whether err is of class ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalid reports whether err is of class ErrInvalid.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsCorrupt reports whether err is of class ErrCorrupt.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

// IsTooLarge reports whether err is of class ErrTooLarge.
func IsTooLarge(err error) bool { return errors.Is(err, ErrTooLarge) }

// IsNoSpace reports whether err is of class ErrNoSpace.
func IsNoSpace(err error) bool { return errors.Is(err, ErrNoSpace) }

// IsUnavailable reports whether err is of class ErrUnavailable.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// IsUnauthorized reports whether err is of class ErrUnauthorized.
func IsUnauthorized(err error) bool { return errors.Is(err, ErrUnauthorized) }

// Classes lists every class, for tests that check a mapping is total.
func Classes() []error {
	return []error{ErrNotFound, ErrExists, ErrConflict, ErrInvalid, ErrCorrupt,
		ErrTooLarge, ErrNoSpace, ErrUnavailable, ErrUnauthorized}
}

// Narrow returns a sentinel error with message msg that is narrower than
// class: errors.Is finds both the sentinel itself and class. A surface that
// gives the narrow error an answer of its own (repo's "not WebAssembly" is
// HTTP 400 not_wasm, not bad_request) tests it before the class.
func Narrow(msg string, class error) error { return &narrowError{msg: msg, class: class} }

type narrowError struct {
	msg   string
	class error
}

func (e *narrowError) Error() string { return e.msg }
func (e *narrowError) Unwrap() error { return e.class }
