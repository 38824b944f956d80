package wasm_test

import (
	"crypto/sha256"
	"hash"
	"io"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ghost-network/gpmd/internal/testutil"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// copyChunk is the upload's copy buffer size (io.Copy's default).
const copyChunk = 32 << 10

// threadCPU is the CPU time the calling OS thread has used. The machines
// that run these benchmarks are shared (load far above the core count), so
// wall time measures the neighbours; CPU time of a locked thread measures
// the code.
func threadCPU(tb testing.TB) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkParse is the parser alone on the real modules, given the whole
// file in one Write and in 32 KiB chunks; the issue asks for 1 GB/s. It
// reports cpu-MB/s, the throughput in CPU time, beside MB/s in wall time.
func BenchmarkParse(b *testing.B) {
	for _, name := range RealModules {
		mod := RealBytes(b, name)
		for _, chunk := range []int{len(mod), copyChunk} {
			label := "/whole"
			if chunk == copyChunk {
				label = "/32KiB"
			}
			b.Run(name+label, func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.SetBytes(int64(len(mod)))
				start := threadCPU(b)
				for b.Loop() {
					if _, err := feed(mod, func() int { return chunk }); err != nil {
						b.Fatal(err)
					}
				}
				cpu := threadCPU(b) - start
				b.ReportMetric(float64(len(mod))*float64(b.N)/cpu.Seconds()/1e6, "cpu-MB/s")
			})
		}
	}
}

// hashOnly and hashAndParse are the upload's copy loop without and with
// the parser beside the hash.
func hashOnly(h hash.Hash, mod []byte) {
	h.Reset()
	for i := 0; i < len(mod); i += copyChunk {
		h.Write(mod[i:min(i+copyChunk, len(mod))])
	}
	h.Sum(nil)
}

func hashAndParse(tb testing.TB, h hash.Hash, mod []byte) {
	h.Reset()
	p := wasm.NewParser()
	w := io.MultiWriter(h, p)
	for i := 0; i < len(mod); i += copyChunk {
		if _, err := w.Write(mod[i:min(i+copyChunk, len(mod))]); err != nil {
			tb.Fatal(err)
		}
	}
	h.Sum(nil)
	if _, err := p.Finish(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkHashAndParse runs SHA-256 alone and SHA-256 with the parser over
// the same bytes in 32 KiB chunks, alternating so both see the same
// machine, and reports parse-cost-%: how much more CPU time the pass takes
// with the parser (the issue allows 5).
func BenchmarkHashAndParse(b *testing.B) {
	mods := []struct {
		name string
		b    []byte
	}{
		{"1MiB", testutil.Wasm("bench", 1<<20)},
		{"16MiB", testutil.Wasm("bench", 16<<20)},
		{"sql-wasm", RealBytes(b, "sql-wasm.wasm")},
		{"ffmpeg-core", RealBytes(b, "ffmpeg-core.wasm")},
	}
	for _, m := range mods {
		b.Run(m.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			h := sha256.New()
			var plain, parsed time.Duration
			b.SetBytes(int64(len(m.b)))
			for b.Loop() {
				t0 := threadCPU(b)
				hashOnly(h, m.b)
				t1 := threadCPU(b)
				hashAndParse(b, h, m.b)
				parsed += threadCPU(b) - t1
				plain += t1 - t0
			}
			b.ReportMetric(100*(float64(parsed)/float64(plain)-1), "parse-cost-%")
		})
	}
}
