// Package peer is the node-to-node protocol of the reference GVM: how one
// node asks another to run a function of a module. GPMD never sees it; a
// node finds another's address and port with GMP CONNECT, then dials it.
//
// # Wire format
//
// TCP; each message is one JSON object on one line (newline-delimited
// JSON, the line feed ends it), at most MaxMessage bytes. The caller sends
// calls:
//
//	{"id": 1, "call": "math.add", "version": "^0.0", "args": ["2", "3"]}
//
// and the node answers each with a result or an error carrying the same id:
//
//		{"id": 1, "results": ["5"]}
//		{"id": 2, "error": {"code": "not_found", "message": "module math exports no function \"sub\" (its functions: add, mul)"}}
//
//	  - id: an integer (uint64) the caller picks; answers carry it back. Many
//	    calls may be in flight on one connection; their answers may come in
//	    any order, so callers match them by id.
//	  - call: "module.function" (a module name holds no dot, so the first dot
//	    splits them). version: optional, "" or "latest" for the node's
//	    current choice, else an exact version or a constraint as GMP takes.
//	  - args and results: the values in text form, as JSON strings: i32 and
//	    i64 as decimal integers (i32 also accepts 0 … 2^32-1, i64 0 … 2^64-1),
//	    f32 and f64 as Go's strconv writes and reads them.
//	  - error codes: "not_found" (no such module, version or function),
//	    "bad_request" (a malformed call, wrong argument count or type),
//	    "trap" (the function trapped), "unavailable" (the node cannot reach
//	    GPMD or is stopping), "internal" (anything else).
//
// A line that is not a call object gets an answer with id 0 and code
// "bad_request", and the connection stays open; a line longer than
// MaxMessage gets that answer and the connection closes.
//
// # Guarantees
//
// The server runs at most MaxInFlight calls of one connection at a time
// and stops reading that connection while it is full, so one caller cannot
// queue unbounded work. Answers are written whole, one at a time. Close
// stops listening, closes every connection and waits for their goroutines.
package peer
