package repo_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/blobstore/blobstoretest"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
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
	info, _, err := bs.Put(context.Background(), bytes.NewReader(testutil.TinyWasm), "", 0)
	if err != nil {
		b.Fatal(err)
	}
	idx, err := index.Open(dir+"/"+repo.IndexFile, index.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		e := index.Entry{Ref: index.MustRef("big", fmt.Sprintf("v1.%d.%d", i/1000, i%1000)), Digest: info.Digest, Size: info.Size}
		if _, _, err := idx.Add(e); err != nil {
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
		data := testutil.Wasm(fmt.Sprint(seed+uint64(i)), 4096)
		start := time.Now()
		if _, err := r.Upload(context.Background(), index.MustRef("bench", fmt.Sprintf("v2.0.%d", i)), bytes.NewReader(data), ""); err != nil {
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

// The upload speed requirement (issue 2): Upload of 1 MiB and 16 MiB
// modules reaches at least 85% of the MB/s of blobstoretest's baseline
// (read + SHA-256 + write + fsync + rename + directory fsync of the same
// bytes on the same filesystem). Upload does all that plus the WebAssembly
// check and the index commit (bbolt's own two fdatasyncs). Each iteration
// does one baseline write and one Upload, in alternating order, so both see
// the same disk.
//
//	go test ./repo -run x -bench Upload.MiB -benchtime 20x -count 3
func BenchmarkUpload1MiB(b *testing.B)  { benchUpload(b, 1<<20) }
func BenchmarkUpload16MiB(b *testing.B) { benchUpload(b, 16<<20) }

func benchUpload(b *testing.B, size int) {
	bl, err := blobstoretest.NewBaseline(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	r, err := repo.Open(context.Background(), b.TempDir(), repo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	data := testutil.Wasm("1", size)
	b.SetBytes(int64(size))
	var tBase, tUpload time.Duration
	base := func(i int) {
		binary.LittleEndian.PutUint64(data[8:], uint64(2*i)) // new bytes each time
		start := time.Now()
		if err := bl.Put(data); err != nil {
			b.Fatal(err)
		}
		tBase += time.Since(start)
	}
	upload := func(i int) {
		binary.LittleEndian.PutUint64(data[8:], uint64(2*i+1))
		start := time.Now()
		if _, err := r.Upload(context.Background(), index.MustRef("bench", fmt.Sprintf("v1.0.%d", i)), bytes.NewReader(data), ""); err != nil {
			b.Fatal(err)
		}
		tUpload += time.Since(start)
	}
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first, so that neither always finds the disk
		// busy with the other's writes.
		if i%2 == 0 {
			base(i)
			upload(i)
		} else {
			upload(i)
			base(i)
		}
	}
	// Same bytes per operation: the MB/s ratio is the inverse time ratio.
	b.ReportMetric(float64(tBase)/float64(tUpload), "upload/baseline-MB/s")
	b.ReportMetric(float64(tBase.Microseconds())/float64(b.N), "µs/baseline")
	b.ReportMetric(float64(tUpload.Microseconds())/float64(b.N), "µs/upload")
}
