// Package h1 is the HTTP/1.1 client half the control API's client speaks
// (cmd/control/client): one request on one connection the caller dialled,
// and nothing else. It exists so that the gpmd command line does not link
// net/http and crypto/tls, whose package initialisation alone costs more
// than the command line's whole start-up budget (issue 15).
//
// It is written for exactly what the control API needs: a request with no
// body, a Content-Length body or a chunked one (size unknown), Expect:
// 100-continue for uploads, and a response whose body is delimited by
// Content-Length, chunked (the event stream, progress, backups) or the
// connection's close.
//
// # Guarantees
//
// One request per connection. Do sends Connection: close and owns the
// connection from then on: it is closed when the response's body is closed,
// when Do fails, or when the context ends, whichever comes first. There is
// no pool, no redirect, no proxy, no compression, no TLS.
//
// Nothing the server sends is trusted. The status line and each header line
// are at most MaxLineBytes, the whole head at most MaxHeaderBytes and
// MaxHeaders lines, a chunk-size line at most MaxLineBytes, trailers as a
// head; the version must be HTTP/1.0 or HTTP/1.1, the status three digits,
// Content-Length a decimal that fits an int64 (repeated only with the same
// value, never beside Transfer-Encoding), Transfer-Encoding only chunked.
// Anything else fails with an error that wraps ErrMalformed and says in one
// line what was wrong, quoting at most 64 bytes of what came. A body that
// ends before its Content-Length or its last chunk fails with
// io.ErrUnexpectedEOF.
//
// Cancellation closes the connection. When the context ends, the
// connection is closed at once: a blocked write or read returns, and the
// error is the context's.
//
// A request body is read only by Do, never after the response's body is
// closed: Close waits for the goroutine that sends it.
//
// # Caveats
//
// Header values are sent as given once checked for CR, LF and NUL; names
// and values are not otherwise validated beyond what a control API client
// sends.
package h1
