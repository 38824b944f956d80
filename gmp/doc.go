// Package gmp speaks GMP/1, the Ghost Message Protocol between GPMD and
// the GVM nodes of its device: the server GPMD runs, and a client for GVM
// authors. The wire contract is GMP.md; docs/gmp.md is the project's copy
// with the choices this package makes where the contract is silent.
//
// # Server guarantees
//
//   - Framing: a message is one JSON object. Objects separated by a line
//     feed, by any JSON whitespace, or by nothing are all read. A message
//     of more than Config.MaxMessage bytes gets ERROR message_too_large
//     and the connection closes, having read at most the limit plus one
//     buffer. Bytes that are not a JSON object (an array and a number
//     included) get ERROR bad_json and the connection closes.
//   - Order: the requests of one connection are answered one after
//     another, in the order they arrived; requests may be pipelined.
//   - Deadlines: once the first byte of a message has arrived, the rest
//     must arrive within Config.MessageTimeout or the peer is cut off. A
//     connection with no message in flight is never timed out: a
//     registered node may sit idle for ever. Every write carries its own
//     deadline (Config.WriteTimeout), so a peer that stops reading is cut
//     off and pins no memory.
//   - Registration: one node per connection; a live name is unique. The
//     registration ends when the connection ends, for any reason, before
//     the socket is closed, and with UNREGISTER; from then on DISCOVER
//     and CONNECT no longer see it and its name is free.
//   - Modules: a MODULE reply is encoded from the module store's reader
//     straight into the socket, a chunk at a time: a request costs about
//     224 KiB whatever the module's size. The store's reader verifies
//     the bytes against their digest as they stream. A failure found
//     before the reply has begun (a small module is read whole first) is
//     answered with ERROR internal; one found later cuts the connection
//     before the reply's closing bytes, so no peer ever holds a complete
//     MODULE carrying wrong bytes.
//   - Capacity: at most Config.MaxConns connections; the one over gets
//     ERROR busy and is closed. A panic while serving a connection is
//     logged and closes that connection only.
//   - Lifecycle: Serve, Shutdown and Close behave as net/http's: Shutdown
//     closes the listeners and the idle connections, waits for requests
//     in progress (each connection closes once its reply is out) and
//     returns ctx's error if ctx ends first; Close stops everything at
//     once. Every closed connection is logged at debug level with the
//     reason it closed.
//
// # Client guarantees
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
//   - Errors: *DeniedError for REGISTER_DENIED, ErrNotFound (wrapped) for
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
package gmp
