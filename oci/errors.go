package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ghost-network/gpmd/errdefs"
)

// classify wraps err from oras-go or net/http in its errdefs class, as one
// line naming the operation and the reference: "pull REF: class: detail".
// An error that already carries a class keeps it.
func classify(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, ref, classOf(err))
}

// classOf returns err wrapped so that errors.Is finds its errdefs class.
func classOf(err error) error {
	for _, class := range []error{
		errdefs.ErrUnauthorized, errdefs.ErrNotFound, errdefs.ErrInvalid, errdefs.ErrCorrupt,
		errdefs.ErrTooLarge, errdefs.ErrUnavailable, errdefs.ErrConflict, errdefs.ErrExists,
	} {
		if errors.Is(err, class) {
			return err
		}
	}
	var resp *errcode.ErrorResponse
	switch {
	case errors.As(err, &resp):
		switch {
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%w: %v", errdefs.ErrUnauthorized, err)
		case resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %v", errdefs.ErrNotFound, err)
		case resp.StatusCode == http.StatusRequestEntityTooLarge:
			return fmt.Errorf("%w: %v", errdefs.ErrTooLarge, err)
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%w: %v", errdefs.ErrUnavailable, err)
		default:
			return fmt.Errorf("%w: %v", errdefs.ErrInvalid, err)
		}
	case errors.Is(err, auth.ErrBasicCredentialNotFound), strings.Contains(err.Error(), "missing username or password"):
		// The registry asked for credentials and the store has none.
		return fmt.Errorf("%w: %v (no credentials for this registry in the docker/oras credential store)", errdefs.ErrUnauthorized, err)
	case errors.Is(err, errdef.ErrNotFound):
		// oras-go says "REF: not found"; the caller names the reference.
		return fmt.Errorf("%w: %s", errdefs.ErrNotFound, strings.TrimSuffix(err.Error(), ": "+errdef.ErrNotFound.Error()))
	case errors.Is(err, errdef.ErrSizeExceedsLimit):
		return fmt.Errorf("%w: %v", errdefs.ErrTooLarge, err)
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData):
		return fmt.Errorf("%w: %v", errdefs.ErrCorrupt, err)
	case errors.Is(err, errdef.ErrInvalidDigest), errors.Is(err, errdef.ErrInvalidReference),
		errors.Is(err, errdef.ErrInvalidMediaType), errors.Is(err, errdef.ErrMissingReference):
		return fmt.Errorf("%w: %v", errdefs.ErrInvalid, err)
	case errors.Is(err, context.Canceled):
		// The caller gave up: keep context.Canceled visible for errors.Is.
		return fmt.Errorf("%w: %w", errdefs.ErrUnavailable, err)
	default:
		var nerr net.Error
		if errors.As(err, &nerr) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: registry unreachable or not answering: %w", errdefs.ErrUnavailable, err)
		}
		// Anything else from the wire (a malformed response, a dropped
		// connection) means the registry could not serve us now.
		return fmt.Errorf("%w: %v", errdefs.ErrUnavailable, err)
	}
}
