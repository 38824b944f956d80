package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// fillRepo creates a repository in dir holding n versions of one module
// (all naming one blob, as a long-lived module that is rebuilt from the same
// source would), written straight into the index without fsync so that the
// fixture takes seconds, then opens it as a Repo.
func fillRepo(b *testing.B, dir string, n int) *repo.Repo {
	b.Helper()
	bs, err := blobstore.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	info, _, err := bs.Put(context.Background(), bytes.NewReader(tiny), "", 0)
	if err != nil {
		b.Fatal(err)
	}
	idx, err := index.Open(dir+"/"+repo.IndexFile, index.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		rec := index.Record{Name: "big", Version: fmt.Sprintf("v1.%d.%d", i/1000, i%1000), Digest: info.Digest, Size: info.Size}
		if _, _, err := idx.Add(rec); err != nil {
			b.Fatal(err)
		}
	}
	if err := idx.Close(); err != nil {
		b.Fatal(err)
	}
	r, err := repo.Open(context.Background(), dir, repo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// BenchmarkUploadLatencyRatio measures the latency of a 4 KiB upload into a
// repository holding 100,000 versions against one holding 10, in the same
// run, in alternating blocks. Before each block of the small repository the
// large one's mirror is flushed (untimed), so that the large repository's
// background work is charged to its own blocks only. The bound:
// ratio ≤ 2.
func BenchmarkUploadLatencyRatio(b *testing.B) {
	small := fillRepo(b, b.TempDir(), 10)
	large := fillRepo(b, b.TempDir(), 100_000)
	const block = 16
	var tSmall, tLarge time.Duration
	var nSmall, nLarge int
	seed := uint64(time.Now().UnixNano())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, t, n := small, &tSmall, &nSmall
		if (i/block)%2 == 1 {
			r, t, n = large, &tLarge, &nLarge
		}
		if r == small && i%block == 0 {
			b.StopTimer()
			large.FlushMirror(context.Background())
			b.StartTimer()
		}
		data := wasm(seed+uint64(i), 4096)
		start := time.Now()
		if _, err := r.Upload(context.Background(), "bench", fmt.Sprintf("v2.0.%d", i), bytes.NewReader(data), ""); err != nil {
			b.Fatal(err)
		}
		*t += time.Since(start)
		*n++
	}
	if nSmall > 0 && nLarge > 0 {
		ls, ll := tSmall/time.Duration(nSmall), tLarge/time.Duration(nLarge)
		b.ReportMetric(float64(ls.Microseconds()), "µs/upload@10")
		b.ReportMetric(float64(ll.Microseconds()), "µs/upload@100k")
		b.ReportMetric(float64(ll)/float64(ls), "ratio")
	}
}
