// Package client is GPMD's reference client of GMP/1, the Ghost Message
// Protocol (docs/gmp.md): what a GVM links to register its node, find the
// others and fetch modules. It shares the message codes, bodies and JSON
// primitives with the server through package gmp/wire, and nothing else:
// importing it does not bring in the server or the module store.
//
// # Guarantees
//
//   - A Client is one connection, safe for concurrent use: requests from
//     many goroutines are pipelined, each reply goes to its caller by id
//     (and GPMD's reply order is checked).
//   - Every call takes a context; a cancelled call returns at once, its
//     reply is read and dropped when it comes, and the connection goes
//     on.
//   - Client.Module decodes the base64 straight into the caller's writer
//     and hashes it on the way: the reply is never held whole. It fails
//     with ErrHashMismatch when the bytes or their number differ from the
//     reply's hash and size; the bytes written before an error are to be
//     discarded.
//   - Errors: *DeniedError for REGISTER_DENIED, ErrNotFound (errdefs.ErrNotFound, wrapped with the subject) for
//     NOT_FOUND and MODULE_NOT_FOUND, *ProtocolError for ERROR, ErrClosed
//     (wrapped, with the cause) once the connection has ended.
//
// # Caveats
//
// The client's writer for Module is called from the client's reading
// goroutine: a writer that blocks holds up every other reply on that
// connection. A Client's requests are bounded by ClientOptions.WriteTimeout
// and not by their context once their bytes have begun to go out, since a
// half-written request would break the connection for every caller.
package client
