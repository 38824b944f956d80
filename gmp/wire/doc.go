// Package wire is what GPMD's GMP server (package gmp) and its client
// (package gmp/client) share, once: the message families and codes, the
// error codes, the bodies, and the JSON primitives both sides read and
// write messages with. It holds no I/O; the framing reader lives with the
// server (gmp.Decoder) and the streaming reply reader with the client.
//
// # Why the JSON is scanned by hand
//
// GMP messages are small, flat objects with a handful of known fields, and
// GMP.md fixes rules that encoding/json does not follow:
//
//   - Keys match exactly ("Type" is not "type"); encoding/json matches
//     struct fields case-insensitively.
//   - Of duplicate keys the last counts and null is absent; encoding/json
//     leaves a field unchanged on null, so {"name":"x","name":null}
//     decodes as "x" (issue 16, point 14). LastMembers is the rule, once.
//   - An id is echoed verbatim, so it must be valid UTF-8; encoding/json
//     replaces invalid UTF-8 silently and never reports it.
//   - Integers are integers: 1.0 and 1e0 are refused, 64-bit ids kept
//     exact (encoding/json into any turns them into float64).
//   - A MODULE reply carries a module of up to hundreds of MiB in base64;
//     the client decodes it from the socket into the caller's writer as it
//     arrives. encoding/json holds the whole reply and the decoded bytes.
//
// And it is faster, measured side by side on the same input in the same
// run (2 shared cores, go test -bench, Go 1.26; figures from the
// benchmarks named):
//
//   - Reading requests (gmp BenchmarkCodecDecode: framing, envelope and
//     body fields of a mix of HELLO, REGISTER, DISCOVER, CONNECT,
//     MODULE_REQUEST and PING): 1.57–1.64 M requests/s and 0.84
//     allocations per request by hand, 0.67–0.68 M/s and 9.2 allocations
//     with a json.Decoder and json.Unmarshal: 2.3–2.4 times faster.
//   - Writing replies (gmp BenchmarkCodecEncode*: REGISTERED and NODES):
//     140 ns and no allocation by hand, 880–1,500 ns and 4 allocations
//     with a json.Encoder.
//   - A 16 MiB MODULE reply in the client (gmp/client
//     BenchmarkClientDecode16MiB, hash check included): 500–650 MB/s by
//     hand, streaming; 118–140 MB/s with json.Unmarshal into a []byte,
//     which checks nothing and holds 40 MiB: 4.3–4.6 times faster.
//
// # The three scanners, and why three
//
// Each reads JSON under different constraints, and they share every
// primitive below (KeyIs, IsSpace, DecodeInt, DescribeByte):
//
//   - gmp.Decoder frames an unbounded stream from a peer that may be
//     hostile: it finds where an object ends as bytes arrive, across
//     reads, gives up at the size limit before the end is seen, and
//     refuses a raw line feed inside an object at once. Then Valid
//     checks the whole (json.Valid's judgement, by a scanner of its own:
//     see Valid).
//   - WalkObject (with LastMembers and WalkArray) walks the members of one
//     complete object that json.Valid accepted: the server's envelope and
//     bodies. It can trust the syntax, so it is a few lines.
//   - The client's reply reader tokenizes a reply straight off the socket
//     so that a MODULE's binary never has to be framed (and so held)
//     first.
//
// A framing scanner that also walked members would couple the stream's
// limits to the body rules; a client that framed first would hold every
// module whole. So three stay, each small.
//
// # Guarantees
//
// Every walker here requires input that json.Valid accepted and never
// reads past it. AppendString writes valid JSON for any Go string (invalid
// UTF-8 becomes U+FFFD), escaping as encoding/json does without its HTML
// escaping, so a reply built with the Append functions is valid JSON text.
package wire
