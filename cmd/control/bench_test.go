package control

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// BenchmarkUploadHTTP: the in-process part of `gpmd wasm upload` (issue
// 15): Client.Upload of a file through the control API on loopback against
// repo.Upload of the same size from memory, in one run, the sides taking
// turns, each upload new bytes into one real repository (fsyncs included).
// ratio is the repository's time over the HTTP path's; the process start
// and the CLI are make bench-e2e's.
//
//	go test -run '^$' -bench UploadHTTP ./cmd/control/
func BenchmarkUploadHTTP(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			f := newFixture(b, 0, "")
			dir := b.TempDir()
			var viaHTTP, direct time.Duration
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				m1 := testutil.Wasm(fmt.Sprintf("h%d", i), size)
				m2 := testutil.Wasm(fmt.Sprintf("d%d", i), size)
				p := filepath.Join(dir, fmt.Sprintf("%d.wasm", i))
				if err := os.WriteFile(p, m1, 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				fh, err := os.Open(p)
				if err != nil {
					b.Fatal(err)
				}
				_, err = f.client.Upload(b.Context(), fmt.Sprintf("h%d", i), "1.0.0", fh, int64(size))
				fh.Close()
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if _, err := f.repo.Upload(b.Context(), index.MustRef(fmt.Sprintf("d%d", i), "1.0.0"), bytes.NewReader(m2), ""); err != nil {
					b.Fatal(err)
				}
				viaHTTP += t1.Sub(t0)
				direct += time.Since(t1)
			}
			b.ReportMetric(float64(viaHTTP.Microseconds())/float64(b.N)/1000, "http-ms/upload")
			b.ReportMetric(float64(direct.Microseconds())/float64(b.N)/1000, "repo-ms/upload")
			b.ReportMetric(direct.Seconds()/viaHTTP.Seconds(), "ratio")
		})
	}
}
