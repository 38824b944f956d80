// Package client is the control API's client: what the gpmd command line
// (and anything else that manages a daemon) calls. The server is
// cmd/control; what both speak is cmd/control/api.
//
// # Guarantees
//
// Checked bytes. Upload hashes what it sends and fails unless the digest
// the daemon stored is that hash; Download checks length and digest as the
// bytes arrive (a caller that must never expose wrong bytes writes to a
// temporary place first); UploadFile passes an open regular file's
// descriptor over the Unix socket, and the digest is the daemon's.
//
// Errors across the wire. An error response becomes an *api.APIError that
// unwraps to the error class of its code (api.ClassOf), so errors.Is(err,
// errdefs.ErrNotFound) holds for a 404; nothing answering is an
// *api.NotRunningError (api.ErrNotRunning).
//
// Light. It links net/http, the standard library and the light api
// package only: the command line's start stays short (issue 15).
package client
