package metrics

import (
	"maps"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	m.requestHistogram(message).Observe(d.Seconds())
}

// requestHistogram is the gmp_request_duration_seconds child for message.
// GMP calls Request for every request, and WithLabelValues hashes the
// label, checks it and looks the child up under a lock each time (as much
// CPU as the rest of a DISCOVER's own handling), so each child is looked up
// once and kept in a copy-on-write map: a request reads it without a lock.
// The map stays small because GMP's message names are a bounded set
// (gmp.Observer).
func (m *Metrics) requestHistogram(message string) prometheus.Observer {
	if o, ok := (*m.gmpRequestsBy.Load())[message]; ok {
		return o
	}
	m.gmpRequestsMu.Lock()
	defer m.gmpRequestsMu.Unlock()
	old := *m.gmpRequestsBy.Load()
	if o, ok := old[message]; ok {
		return o
	}
	o := m.gmpRequests.WithLabelValues(message)
	next := make(map[string]prometheus.Observer, len(old)+1)
	maps.Copy(next, old)
	next[message] = o
	m.gmpRequestsBy.Store(&next)
	return o
}

// ModuleSent records a MODULE reply written in full.
func (m *Metrics) ModuleSent(bytes int64) {
	m.downloads.WithLabelValues(ProtocolGMP).Inc()
	m.downloadBytes.WithLabelValues(ProtocolGMP).Add(float64(bytes))
}
