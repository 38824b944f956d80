// Package control is GPMD's control API: HTTP/1.1 with JSON on the control
// address (127.0.0.1:1111 by default), spoken by the gpmd CLI and by
// anything else that manages a daemon. Server holds the handlers the daemon
// serves; the client is cmd/control/client, and what both speak (bodies,
// headers, codes) is cmd/control/api, both light enough for the command
// line to link without this package. docs/control-api.md documents every
// endpoint for people.
//
// # Guarantees
//
// Streaming. An upload's body goes straight from the socket into the
// repository (which hashes and writes it as it arrives), and a download is
// copied from the repository's verifying reader to the socket: neither ever
// holds a whole module in memory, whatever its size.
//
// No wrong bytes. A download whose bytes turn out not to match their digest
// while they stream is cut off before its last byte (the handler always holds
// back the latest chunk until the next read succeeds), so a client sees a
// broken transfer, never a complete body of the announced length carrying
// wrong bytes. The client's Download checks length and digest again.
//
// No paths from callers. Every request names modules by name and version;
// the daemon never opens a file path that a caller sends.
//
// Errors. Every error response is JSON {"error": "<code>", "message":
// "<text>"}; the error class → (HTTP status, code) mapping lives in one
// function, statusOf, and the client maps codes back to the same error
// classes (api.ClassOf: errdefs.ErrNotFound, …; the narrow
// errdefs.ErrNotWasm, …) so errors.Is works across the wire.
//
// Authentication. When the server has a token, every request must carry
// "Authorization: Bearer <token>" (compared in constant time), else 401.
//
// Origin guard. Before the token is looked at, a request whose Host is not
// a loopback name on the server's port (Config.Addr), or that carries an
// Origin other than the server's own, is refused 403 (forbidden_host,
// forbidden_origin): DNS rebinding and cross-origin POSTs from a browser
// reach nothing.
//
// Bounded peers. An upload that sends no byte, or a download whose client
// takes no byte, for Config.StallTimeout is cut; at most Config.MaxUploads
// uploads run at once (one more: 503 busy). The daemon caps connections
// too (cmd/daemon).
//
// # Caveats
//
// An early error on an upload (a bad name, a body over the limit) is
// answered before the body is read, which a client only sees reliably when
// it sends "Expect: 100-continue" as Client does; an error found mid-body
// (not WebAssembly, too large without a Content-Length) is answered after
// the server has read the rest of the body up to the size limit (past the
// limit, 1 MiB more at most), then the connection is closed: a client still
// sending a body over the limit may see the close before the answer.
package control
