// Package gmp is GPMD's server of GMP/1, the Ghost Message Protocol between
// GPMD and the GVM nodes of its device. The client GVM authors use is
// package gmp/client; what both share (message codes, bodies, the JSON
// codec and why it is written by hand) is package gmp/wire. The wire
// contract is GMP.md; docs/gmp.md is the project's copy with the choices
// this package makes where the contract is silent.
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
//     registered node may sit idle for ever. No write waits on the peer
//     longer than Config.WriteTimeout, so a peer that stops reading is cut
//     off and pins no memory: a MODULE reply's writes, events and the
//     fleet's NODES set the deadline before writing; a small reply, which
//     the socket takes at once unless the peer has stopped reading, sets
//     it only when it has to wait, before waiting.
//   - Registration: one node per connection; a live name is unique. The
//     registration ends when the connection ends, for any reason, before
//     the socket is closed, and with UNREGISTER; from then on DISCOVER
//     and CONNECT no longer see it and its name is free. A REGISTER for a
//     name whose holder's peer has already closed its connection (its FIN
//     or RST has arrived, unread) frees the name and succeeds: a node that
//     closes and at once registers again never gets name_taken.
//   - Bodies: of duplicate keys the last counts, and null is absent, in
//     the envelope and in every body. An id that is a string of invalid
//     UTF-8 gets bad_request and is never echoed: every reply is valid
//     JSON text.
//   - Errors of the module store map to GMP codes in one function
//     (errorCodeOf): errdefs.ErrNotFound to the request's not-found reply,
//     errdefs.ErrInvalid to bad_request, anything else to internal.
//   - Modules: a MODULE reply is encoded from the module store's reader
//     straight into the socket, a chunk at a time: a request costs about
//     630 KiB whatever the module's size. The store's reader verifies
//     the bytes against their digest as they stream, on a goroutine of
//     its own, one chunk ahead of the base64 encoding and the writes. A failure found
//     before the reply has begun (a small module is read whole first) is
//     answered with ERROR internal; one found later cuts the connection
//     before the reply's closing bytes, so no peer ever holds a complete
//     MODULE carrying wrong bytes.
//   - Events (feature "events", with Config.Events): a registration or
//     departure of a discoverable node is published to the hub under the
//     registry's lock, and SUBSCRIBE takes its seq and the node list under
//     that same lock, so a subscriber sees each change once, in the list
//     or as an event. EVENT messages are written by one goroutine per
//     subscribed connection under the connection's write lock, whole
//     messages only and in batches of at most 32 KiB, so they never land
//     inside a reply and hold a reply back by no more than one batch;
//     SUBSCRIBED precedes every event of its subscription. A subscriber's
//     queue is bounded (package events); the producer never waits.
//   - have (feature "have"): a MODULE_REQUEST whose have equals the
//     resolved digest gets MODULE without binary; a malformed have is
//     bad_request. WELCOME's features are computed from the Config.
//   - Fleet (Config.Fleet, feature "fleet" in WELCOME): every registration
//     and leave is reported to the fleet under the registry's lock, so the
//     fleet sees one name's changes in the order they happened; the report
//     never blocks. DISCOVER with scope "fleet" and CONNECT of name@device
//     answer from the fleet's local copy and never wait on the network; the
//     encoded fleet NODES body is shared by every connection until this
//     device's or the fleet's list changes. Without a fleet the server is
//     revision 1 plus the fleet-scope rules of GMP.md for a GPMD in none.
//   - Capacity: at most Config.MaxConns connections; the one over gets
//     ERROR busy and is closed. A panic while serving a connection is
//     logged and closes that connection only.
//   - Lifecycle: Serve, Shutdown and Close behave as net/http's: Shutdown
//     closes the listeners and the idle connections, waits for requests
//     in progress (each connection closes once its reply is out) and
//     returns ctx's error if ctx ends first; Close stops everything at
//     once. Every closed connection is logged at debug level with the
//     reason it closed, at warning when it closed for a protocol error;
//     nodes registered and gone are logged at info, with why they left.
//
// # Caveats
//
// Freeing a name whose holder's peer has closed (see Registration) needs
// POLLRDHUP, which is Linux's: elsewhere the name stays taken until the
// server reads the end of the holder's connection.
package gmp
