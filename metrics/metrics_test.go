package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/index"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestScrapeSurvivesAFailingStore: a store that cannot be counted leaves
// its metrics out of the scrape; the rest is served, well-formed.
func TestScrapeSurvivesAFailingStore(t *testing.T) {
	m := New("test", Sources{
		GMPConns: func() int { return 3 },
		GMPNodes: func() int { return 2 },
		Store: func(context.Context) (index.Stats, error) {
			return index.Stats{}, errors.New("index closed")
		},
	}, nil)
	m.Uploaded(100, 20*time.Millisecond)
	m.UploadFailed("too_large", time.Millisecond)
	m.ConnClosed("peer closed")
	m.Request("MODULE_REQUEST", time.Millisecond)
	m.ModuleSent(100)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d\n%s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if fams["gpmd_store_versions"] != nil {
		t.Error("store metrics served although the store failed")
	}
	for name, want := range map[string]float64{
		"gpmd_uploads_total":                1,
		"gpmd_upload_bytes_total":           100,
		"gpmd_gmp_connections":              3,
		"gpmd_gmp_nodes":                    2,
		"gpmd_gmp_connections_closed_total": 1,
	} {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Errorf("%s missing", name)
			continue
		}
		mm := f.GetMetric()[0]
		got := mm.GetCounter().GetValue() + mm.GetGauge().GetValue()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		if name == "gpmd_gmp_connections_closed_total" && mm.GetLabel()[0].GetValue() != "peer_closed" {
			t.Errorf("reason label %q, want peer_closed", mm.GetLabel()[0].GetValue())
		}
	}
}

// TestOwnRegistry: two Metrics never share state (no global registry).
func TestOwnRegistry(t *testing.T) {
	a, b := New("a", Sources{}, nil), New("b", Sources{}, nil)
	a.Uploaded(1, time.Millisecond)
	fa, _ := a.Registry().Gather()
	fb, _ := b.Registry().Gather()
	count := func(fams []*dto.MetricFamily) float64 {
		for _, f := range fams {
			if f.GetName() == "gpmd_uploads_total" {
				return f.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	if count(fa) != 1 || count(fb) != 0 {
		t.Errorf("uploads: a %v, b %v; want 1 and 0", count(fa), count(fb))
	}
}

// TestRequestsByMessage: requests recorded from many goroutines at once,
// under names seen for the first time concurrently, are each counted
// under their own message label (the children cache loses none).
func TestRequestsByMessage(t *testing.T) {
	m := New("test", Sources{}, nil)
	names := []string{"HELLO", "DISCOVER", "CONNECT", "MODULE_REQUEST", "invalid"}
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m.Request(names[(g+i)%len(names)], time.Millisecond)
			}
		})
	}
	wg.Wait()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range fams {
		if f.GetName() != "gpmd_gmp_request_duration_seconds" {
			continue
		}
		for _, mm := range f.GetMetric() {
			got[mm.GetLabel()[0].GetValue()] = mm.GetHistogram().GetSampleCount()
		}
	}
	var total uint64
	for _, n := range names {
		if got[n] == 0 {
			t.Errorf("%s: no requests counted", n)
		}
		total += got[n]
	}
	if len(got) != len(names) || total != goroutines*each {
		t.Errorf("counted %v (%d in all), want %d requests under %d names", got, total, goroutines*each, len(names))
	}
}

// BenchmarkRequest is the cost GMP pays per request for its metric.
func BenchmarkRequest(b *testing.B) {
	m := New("bench", Sources{}, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request("DISCOVER", 100*time.Microsecond)
		}
	})
}
