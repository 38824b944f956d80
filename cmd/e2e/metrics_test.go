package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is GET /metrics of the daemon at addr, parsed by the Prometheus
// text parser: a format error fails the test.
func scrape(t *testing.T, addr, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return fams
}

// value is the value of the sample of family name whose labels include
// labels (name=value pairs); -1 when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// TestMetrics: /metrics of the real daemon parses as the Prometheus text
// format, asks for the token like every endpoint, and its counters move
// with real traffic: an upload (and a refused one), a GMP registration and
// MODULE, a download over the control API, a verify and a gc.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	const token = "metrics-token"
	st := e.start("--token-file", e.secret("token", []byte(token+"\n")))

	resp, err := http.Get("http://" + st.ControlAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %s, want 401", resp.Status)
	}

	before := scrape(t, st.ControlAddr, token)
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "gpmd_build_info", "gpmd_store_versions", "gpmd_gmp_connections", "gpmd_gmp_nodes"} {
		if before[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if v := value(before, "gpmd_uploads_total"); v != 0 {
		t.Fatalf("uploads before any: %v", v)
	}

	e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", e.file("tiny.wasm", testutil.TinyWasm))
	if r := e.run(nil, "wasm", "upload", "--name", "bad", "--version", "v0.0.1", "--file", e.file("bad.wasm", []byte("not wasm"))); r.code == 0 {
		t.Fatalf("upload of non-WebAssembly succeeded: %v", r)
	}
	e.gpmd("wasm", "get", "tiny", "-o", e.file("out.wasm", nil))

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, "nodes", "modules"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, "node-1", "a1", 40001, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ModuleBytes(ctx, "tiny", ""); err != nil {
		t.Fatal(err)
	}
	e.gpmd("verify")
	e.gpmd("gc")

	after := scrape(t, st.ControlAddr, token)
	size := float64(len(testutil.TinyWasm))
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"gpmd_uploads_total", nil, 1},
		{"gpmd_upload_bytes_total", nil, size},
		{"gpmd_upload_duration_seconds", nil, 2},
		{"gpmd_upload_failures_total", []string{"class", "not_wasm"}, 1},
		{"gpmd_downloads_total", []string{"protocol", "http"}, 1},
		{"gpmd_download_bytes_total", []string{"protocol", "http"}, size},
		{"gpmd_downloads_total", []string{"protocol", "gmp"}, 1},
		{"gpmd_download_bytes_total", []string{"protocol", "gmp"}, size},
		{"gpmd_gmp_connections", nil, 1},
		{"gpmd_gmp_connections_accepted_total", nil, 1},
		{"gpmd_gmp_nodes", nil, 1},
		{"gpmd_gmp_request_duration_seconds", []string{"message", "REGISTER"}, 1},
		{"gpmd_gmp_request_duration_seconds", []string{"message", "MODULE_REQUEST"}, 1},
		{"gpmd_store_modules", nil, 1},
		{"gpmd_store_versions", nil, 1},
		{"gpmd_store_blobs", nil, 1},
		{"gpmd_store_bytes", nil, size},
		{"gpmd_verify_last_problems", nil, 0},
		{"gpmd_gc_last_removed_blobs", nil, 0},
		// uploaded and latest for tiny, registered for node-1
		{"gpmd_events_published_total", nil, 3},
		{"gpmd_events_dropped_total", nil, 0},
		{"gpmd_event_subscribers", nil, 1},
	} {
		if got := value(after, w.name, w.labels...); got != w.want {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.want)
		}
	}
	for _, name := range []string{"gpmd_verify_last_timestamp_seconds", "gpmd_gc_last_timestamp_seconds"} {
		if got := value(after, name); got < float64(st.Started.Unix()) {
			t.Errorf("%s = %v, want a time after the start (%d)", name, got, st.Started.Unix())
		}
	}

	// The node hangs up: the connection is counted closed, by reason.
	c.Close()
	if !testutil.Eventually(5*time.Second, func() bool {
		m := scrape(t, st.ControlAddr, token)
		return value(m, "gpmd_gmp_connections_closed_total", "reason", "peer_closed") == 1 &&
			value(m, "gpmd_gmp_connections") == 0 && value(m, "gpmd_gmp_nodes") == 0
	}) {
		t.Error("closed GMP connection not counted within 5s")
	}
}
