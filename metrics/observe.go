package metrics

import (
	"strings"
	"time"
)

// What the control API reports (control.Observer).

// Uploaded records an upload that succeeded: its module's size and the time
// it took.
func (m *Metrics) Uploaded(bytes int64, d time.Duration) {
	m.uploads.Inc()
	m.uploadBytes.Add(float64(bytes))
	m.uploadDuration.Observe(d.Seconds())
}

// UploadFailed records an upload that failed with an error of class (the
// control API's error code, or "canceled").
func (m *Metrics) UploadFailed(class string, d time.Duration) {
	m.uploadFailures.WithLabelValues(class).Inc()
	m.uploadDuration.Observe(d.Seconds())
}

// Downloaded records a module served in full over the control API.
func (m *Metrics) Downloaded(bytes int64) {
	m.downloads.WithLabelValues(ProtocolHTTP).Inc()
	m.downloadBytes.WithLabelValues(ProtocolHTTP).Add(float64(bytes))
}

// Verified records a finished verify and the problems it found.
func (m *Metrics) Verified(problems int, at time.Time) {
	m.verifyProblems.Set(float64(problems))
	m.verifyTime.Set(float64(at.UnixNano()) / 1e9)
}

// Collected records a finished gc (not a dry run): blobs and bytes removed.
func (m *Metrics) Collected(removed int, bytes int64, at time.Time) {
	m.gcRemoved.Set(float64(removed))
	m.gcBytes.Set(float64(bytes))
	m.gcTime.Set(float64(at.UnixNano()) / 1e9)
}

// What the GMP server reports (gmp.Observer).

// ConnAccepted records a GMP connection accepted.
func (m *Metrics) ConnAccepted() { m.gmpAccepted.Inc() }

// ConnClosed records a GMP connection closed, and why ("peer closed" is
// labelled peer_closed).
func (m *Metrics) ConnClosed(reason string) {
	m.gmpClosed.WithLabelValues(strings.ReplaceAll(reason, " ", "_")).Inc()
}

// Request records a GMP request answered: its message name and the time
// from its arrival to the end of its reply.
func (m *Metrics) Request(message string, d time.Duration) {
	m.gmpRequests.WithLabelValues(message).Observe(d.Seconds())
}

// ModuleSent records a MODULE reply written in full.
func (m *Metrics) ModuleSent(bytes int64) {
	m.downloads.WithLabelValues(ProtocolGMP).Inc()
	m.downloadBytes.WithLabelValues(ProtocolGMP).Add(float64(bytes))
}
