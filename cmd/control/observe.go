package control

import (
	"net/http"
	"time"
)

// Observer is told what the control API does, for metrics
// (*metrics.Metrics satisfies it). Its methods must be safe for
// concurrent use and must not block.
type Observer interface {
	// Uploaded: an upload succeeded with a module of bytes bytes.
	Uploaded(bytes int64, d time.Duration)
	// UploadFailed: an upload failed; class is its error code
	// (statusOf's, or CodeCanceled when the client gave up).
	UploadFailed(class string, d time.Duration)
	// Downloaded: a module of bytes bytes was sent in full.
	Downloaded(bytes int64)
	// Verified: a verify finished at at, finding problems problems.
	Verified(problems int, at time.Time)
	// Collected: a gc (not a dry run) finished at at, removing removed
	// blobs of bytes bytes.
	Collected(removed int, bytes int64, at time.Time)
}

// nopObserver is the default Observer: it observes nothing.
type nopObserver struct{}

func (nopObserver) Uploaded(int64, time.Duration)      {}
func (nopObserver) UploadFailed(string, time.Duration) {}
func (nopObserver) Downloaded(int64)                   {}
func (nopObserver) Verified(int, time.Time)            {}
func (nopObserver) Collected(int, int64, time.Time)    {}

// errorClass is the class an upload failure is counted under: the code
// the client is answered with.
func errorClass(err error) string {
	if isCanceled(err) {
		return CodeCanceled
	}
	_, code := statusOf(err)
	return code
}

// handleMetrics serves GET /metrics with h, behind the same token and
// request log as every endpoint. A scrape is logged at debug level only
// (see logRequests): Prometheus asks every few seconds.
func (s *Server) handleMetrics(h http.Handler) {
	if h != nil {
		s.mux.Handle("GET "+MetricsPath, h)
	}
}

// MetricsPath is where the Prometheus metrics are served.
const MetricsPath = "/metrics"
