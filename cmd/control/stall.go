package control

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// errStalled: a peer moved no byte for StallTimeout; the transfer is cut.
var errStalled = errors.New("stalled")

// stallReader is an upload's body with a deadline that moves with
// progress: each Read may wait StallTimeout for a byte, so a client that
// sends half its body and stops is cut after StallTimeout however large
// the body, while a slow client that keeps sending is not.
type stallReader struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
}

// stallReader wraps body; done clears the deadline for the connection's
// next request.
func (s *Server) stallReader(w http.ResponseWriter, body io.Reader) *stallReader {
	return &stallReader{r: body, rc: http.NewResponseController(w), timeout: s.cfg.StallTimeout}
}

func (sr *stallReader) Read(p []byte) (int, error) {
	if sr.timeout > 0 {
		// An error means a connection without deadlines (not a real
		// socket): nothing to cut then.
		sr.rc.SetReadDeadline(time.Now().Add(sr.timeout))
	}
	n, err := sr.r.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("upload cut: the client sent no byte for %s: %w", sr.timeout, errStalled)
	}
	return n, err
}

func (sr *stallReader) done() {
	if sr.timeout > 0 {
		sr.rc.SetReadDeadline(time.Time{})
	}
}

// stallWriter is a download's writer with the same moving deadline: each
// write may wait StallTimeout for the client to take bytes, so a client
// that never reads is cut instead of holding the buffers for ever.
type stallWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *Server) stallWriter(w http.ResponseWriter) *stallWriter {
	return &stallWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.StallTimeout}
}

// Write writes p with a fresh deadline: an io.Writer, for the backup
// stream too.
func (sw *stallWriter) Write(p []byte) (int, error) {
	if sw.timeout > 0 {
		sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	}
	n, err := sw.w.Write(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("download cut: the client took no byte for %s: %w", sw.timeout, errStalled)
	}
	return n, err
}

func (sw *stallWriter) done() {
	if sw.timeout > 0 {
		sw.rc.SetWriteDeadline(time.Time{})
	}
}

// acquireUpload takes a slot for one upload, or fails with ErrBusy when
// MaxUploads are in flight; release gives the slot back.
func (s *Server) acquireUpload() (release func(), err error) {
	if s.uploads == nil {
		return func() {}, nil
	}
	select {
	case s.uploads <- struct{}{}:
		return func() { <-s.uploads }, nil
	default:
		return nil, fmt.Errorf("%w: %d uploads are in flight, the most this gpmd takes (--control-max-uploads); try again later", ErrBusy, cap(s.uploads))
	}
}
