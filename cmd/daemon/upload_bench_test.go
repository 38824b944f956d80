package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/blobstore/blobstoretest"
	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// BenchmarkSocketUpload is the daemon's half of `gpmd wasm upload`
// (issue 15) in one process: a daemon started by Run on a data folder of
// the test's, and the upload by descriptor over its Unix socket
// (Client.UploadFile), against the smallest durable ingest of a file of
// the same size (blobstoretest.Baseline.PutFile: read, SHA-256, write,
// fsync, rename, fsync of the folder, as bench/e2e/ingest does, without
// its process), in one run, the sides taking turns, new bytes every time.
// ratio is the ingest's time over the daemon's (median of the pairs):
// what the daemon adds beyond the disk, without either process start.
// "x8" runs eight of each at once.
//
//	go test -run '^$' -bench SocketUpload -benchtime 40x ./cmd/daemon
func BenchmarkSocketUpload(b *testing.B) {
	for _, c := range []struct {
		name     string
		size, at int
	}{{"1MiB", 1 << 20, 1}, {"16MiB", 16 << 20, 1}, {"1MiBx8", 1 << 20, 8}} {
		b.Run(c.name, func(b *testing.B) {
			work := b.TempDir()
			st, stop := runDaemon(b, conf.Config{})
			defer stop()
			client := ctlclient.NewUnixClient(filepath.Join(st.DataDir, conf.SocketFile), "")
			defer client.Close()
			ingestDir := filepath.Join(work, "ingest")
			if err := os.Mkdir(ingestDir, 0o700); err != nil {
				b.Fatal(err)
			}
			baseline, err := blobstoretest.NewBaseline(ingestDir)
			if err != nil {
				b.Fatal(err)
			}
			var ratios []float64
			var gTotal, iTotal time.Duration
			b.SetBytes(int64(c.size * c.at))
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				files := make([]string, 2*c.at)
				for j := range files {
					files[j] = filepath.Join(work, fmt.Sprintf("f%d-%d.wasm", i, j))
					if err := os.WriteFile(files[j], testutil.Wasm(files[j], c.size), 0o644); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				upload := func(k int) error {
					f, err := os.Open(files[k])
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = client.UploadFile(b.Context(), fmt.Sprintf("m%d", i*c.at+k), "1.0.0", f, false)
					return err
				}
				ingest := func(k int) error { return baseline.PutFile(files[c.at+k]) }
				var g, in time.Duration
				for _, gpmdFirst := range []bool{i%2 == 0, i%2 != 0} {
					if gpmdFirst {
						g = atOnce(b, c.at, upload)
					} else {
						in = atOnce(b, c.at, ingest)
					}
				}
				gTotal += g
				iTotal += in
				ratios = append(ratios, in.Seconds()/g.Seconds())
				b.StopTimer()
				for _, f := range files {
					os.Remove(f)
				}
				for _, sub := range []string{"tmp", "dst"} {
					entries, _ := os.ReadDir(filepath.Join(ingestDir, sub))
					for _, e := range entries {
						os.Remove(filepath.Join(ingestDir, sub, e.Name()))
					}
				}
				b.StartTimer()
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
			b.ReportMetric(float64(gTotal.Microseconds())/float64(b.N)/1000, "gpmd-ms")
			b.ReportMetric(float64(iTotal.Microseconds())/float64(b.N)/1000, "ingest-ms")
		})
	}
}

// atOnce runs fn(0..n-1) at once and returns the time until all ended.
func atOnce(b *testing.B, n int, fn func(int) error) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for k := range n {
		wg.Go(func() { errs[k] = fn(k) })
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return d
}
