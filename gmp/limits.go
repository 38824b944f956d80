package gmp

import "time"

// Limits and deadlines of the server, in one place. Each Default* is the
// value a zero field of Config takes, and the daemon exposes each as a flag
// (the flag name is given with each constant).
const (
	// DefaultAddr is where GPMD listens for GMP (--gmp-addr).
	DefaultAddr = "127.0.0.1:5989"
	// DefaultMaxMessage is the largest request, in bytes from its opening
	// '{' to its closing '}' (--gmp-max-message). Larger: ERROR
	// message_too_large, then the connection closes.
	DefaultMaxMessage = 1 << 20
	// DefaultMaxConns caps open GMP connections (--gmp-max-conns). The
	// connection over the cap gets ERROR busy, then closes.
	DefaultMaxConns = 10000
	// DefaultMessageTimeout is how long a peer has to finish a message once
	// its first byte has arrived (--gmp-message-timeout). A peer that
	// trickles bytes is cut off; a peer with nothing in flight waits forever.
	DefaultMessageTimeout = 10 * time.Second
	// DefaultWriteTimeout bounds each write to a peer (--gmp-write-timeout),
	// so a peer that never reads cannot pin a reply's buffers.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultReplyTimeout bounds the whole of one MODULE reply
	// (--gmp-reply-timeout), however steadily the peer reads: a peer that
	// reads a byte every few seconds holds its reply's buffers no longer
	// than this. Two minutes carry the largest module the store takes by
	// default (256 MiB, 342 MiB in base64) at 3 MB/s.
	DefaultReplyTimeout = 2 * time.Minute
	// DefaultMaxRejecting caps the connections over MaxConns being told
	// busy at once (--gmp-max-rejecting). Each is written ERROR busy and
	// drained for up to lingerTimeout so the peer reads it; past this cap a
	// connection is closed at once without the message, so a flood of
	// connections costs no goroutine and no descriptor beyond its accept.
	DefaultMaxRejecting = 64
)

// Internal sizes and timings; not flags, because they trade memory and
// latency inside one process and the benchmarks are what tune them.
const (
	// readBufferSize is the read buffer each connection starts with. It is
	// what an idle connection costs beyond its goroutine, so it is small; it
	// grows for a large message and shrinks back after it.
	readBufferSize = 4 << 10
	// keepBufferSize is the largest read buffer kept between messages.
	keepBufferSize = 64 << 10

	// moduleBufsKept is how many buffer pairs of finished MODULE replies
	// are kept for the next ones (about 630 KiB each).
	moduleBufsKept = 16
	// releaseInterval is the least time between two hand-backs of memory
	// to the system after a burst of MODULE replies (a full collection
	// each).
	releaseInterval = 10 * time.Second

	// moduleChunk is how many module bytes are read and verified at a
	// time, and handed from the goroutine that does that to the one that
	// encodes and writes (sendModule); a multiple of 3 so that every chunk
	// but the last encodes to base64 without padding. A hand-over may wake
	// a parked goroutine and its thread, which on these VMs costs more
	// than hashing 10 KiB: the daemon's CPU per 16 MiB MODULE was 33-44 ms
	// with 96 KiB chunks, 21-29 ms with 192 KiB, 18-25 ms with 384 KiB
	// (a base64 writer from memory: 19-22 ms). With its encoded piece
	// (moduleWritePiece) it is the whole memory a MODULE reply costs
	// (about 630 KiB), whatever the module's size.
	moduleChunk = 252 << 10
	// moduleWritePiece is how many module bytes are encoded and written at
	// a time (a multiple of 3 too): the encoded buffer stays small however
	// large the chunk.
	moduleWritePiece = 96 << 10

	// lingerTimeout is how long a connection that GPMD closes after an
	// error keeps draining the peer's input after sending the ERROR, so the
	// kernel sends FIN and not RST (an RST can destroy the ERROR before the
	// peer reads it).
	lingerTimeout = time.Second

	// Accept back-off after a temporary error (EMFILE and the like).
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second

	// shutdownPoll bounds how often Shutdown looks for connections that
	// have become idle.
	shutdownPollMax = 100 * time.Millisecond
)

// moduleChunk and moduleWritePiece must be multiples of 3 (see above):
// this fails to compile otherwise.
var (
	_ [0]struct{} = [moduleChunk % 3]struct{}{}
	_ [0]struct{} = [moduleWritePiece % 3]struct{}{}
)
