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
// Light. It links the standard library's net, bufio and net/textproto,
// the light api package and internal/h1, its own HTTP/1.1 (one request per
// connection, every byte from the daemon bounded and checked), never
// net/http or crypto/tls: their package initialisation alone would use the
// command line's whole start-up budget (issue 15).
//
// One connection per request. Each call dials, sends Connection: close,
// and closes the connection when its answer has been read (or its stream
// closed); ending the call's context closes it at once. The Client holds
// no connection between calls.
package client
