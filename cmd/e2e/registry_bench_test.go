package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/oci/ocitest"
)

// benchDaemon is a gpmd on free loopback ports for a benchmark (the env
// harness wants a *testing.T).
type benchDaemon struct {
	b   testing.TB
	dir string
	st  conf.State
}

func startBenchDaemon(b testing.TB, extra ...string) *benchDaemon {
	b.Helper()
	d := &benchDaemon{b: b, dir: filepath.Join(b.TempDir(), "data")}
	d.run(append(append([]string{"start"}, portZero...), extra...)...)
	b.Cleanup(func() {
		if _, running, _ := conf.Probe(d.dir); running {
			d.run("kill")
		}
	})
	st, err := conf.ReadState(d.dir)
	if err != nil {
		b.Fatal(err)
	}
	d.st = st
	return d
}

// run runs a gpmd command against this daemon; it must succeed.
func (d *benchDaemon) run(args ...string) string {
	d.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gpmdBin, args...)
	home := filepath.Dir(d.dir)
	cmd.Env = append(os.Environ(), "GPMD_HOME="+d.dir, "HOME="+home)
	cmd.Dir = home
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		d.b.Fatalf("gpmd %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// gmpFetch fetches name over GMP from the daemon, as a GVM would.
func (d *benchDaemon) gmpFetch(name string) {
	d.b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	c, err := client.Dial(ctx, d.st.GMPAddr, client.ClientOptions{})
	if err != nil {
		d.b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Module(ctx, name, "", io.Discard); err != nil {
		d.b.Fatalf("GMP fetch of %s: %v", name, err)
	}
}

// fsyncTree fsyncs every file under dir and dir itself: what gpmd does
// to what it stores, and oras does not.
func fsyncTree(b testing.TB, dir string) {
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
	if err != nil {
		b.Fatal(err)
	}
}

// durations are the times of one operation, round by round.
type durations []time.Duration

func (d *durations) add(t time.Duration) { *d = append(*d, t) }

func (d durations) median() time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// inTurn runs gpmd's and oras's side of a round, gpmd first in odd rounds
// and oras first in even ones, so that neither always follows the other's
// disk writes.
func inTurn(round int, gpmd, oras func()) {
	if round%2 == 1 {
		gpmd()
		oras()
	} else {
		oras()
		gpmd()
	}
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// BenchmarkRegistryRatios measures, in one run and interleaved round by
// round, the three speed targets against the real `registry`
// binary on loopback, through the real daemon and CLI:
//
//   - push: `gpmd wasm push` vs `oras push` of the same 32 MiB module
//     (each to a fresh repository, so no blob is skipped): throughput ratio
//     gpmd/oras, target >= 0.8;
//   - pull: `gpmd wasm pull` (stored durably: the blob is removed and
//     collected between rounds, so every round writes it) vs `oras pull`
//     plus an fsync of what it wrote and its folder: target >= 0.8;
//   - pull-through: the first GMP fetch of a module only the registry
//     holds (tag list, pull, store, serve) vs `oras pull` plus a GMP fetch
//     of a module held locally: target <= 1.5x.
//
// make bench-oci runs it with a bounded number of rounds.
func BenchmarkRegistryRatios(b *testing.B) {
	reg := ocitest.StartBinary(b)
	orasDir := b.TempDir()
	ocitest.Tool(b, "oras")
	// The module the targets name: ffmpeg-core.wasm (32 MB) from
	// the npm package @ffmpeg/core (make wasm-fixtures).
	mod := wasmtest.RealBytes(b, "ffmpeg-core.wasm")
	file := filepath.Join(orasDir, "bench.wasm")
	if err := os.WriteFile(file, mod, 0o644); err != nil {
		b.Fatal(err)
	}
	a := startBenchDaemon(b)
	pt := startBenchDaemon(b, "--registry", reg.Ref("pt"))
	a.run("wasm", "upload", "--name", "bench", "--version", "v1.0.0", "--file", file)
	a.run("wasm", "push", "bench@v1.0.0", reg.Ref("bench/pull"))
	puller := startBenchDaemon(b)

	// Per-round times; the figures are medians, as the machine the
	// benchmark shares (2 cores, other work) makes single rounds jumpy.
	var pushG, pushO, pullG, pullO, ptG, ptO durations
	round := 0
	for b.Loop() {
		round++
		inTurn(round,
			func() {
				pushG.add(timed(func() { a.run("wasm", "push", "bench@v1.0.0", reg.Ref(fmt.Sprintf("bench/gpmd-%d", round))) }))
			},
			func() {
				pushO.add(timed(func() {
					orasIn(b, orasDir, "push", "--plain-http", reg.Ref(fmt.Sprintf("bench/oras-%d:v1.0.0", round)), "bench.wasm:"+oci.MediaTypeWasmLayer)
				}))
			})

		out := filepath.Join(orasDir, fmt.Sprintf("out-%d", round))
		inTurn(round,
			func() {
				pullG.add(timed(func() { puller.run("wasm", "pull", reg.Ref("bench/pull:v1.0.0"), "--name", "bench") }))
				puller.run("wasm", "rm", "bench@v1.0.0")
				puller.run("gc") // the next round writes the blob again
			},
			func() {
				pullO.add(timed(func() {
					orasIn(b, orasDir, "pull", "--plain-http", "-o", out, reg.Ref("bench/pull:v1.0.0"))
					fsyncTree(b, out)
				}))
				os.RemoveAll(out)
			})

		// A module only the registry holds, under a new name each round
		// (no tag list cached); the previous round's copy is collected so
		// the blob is written again.
		name := fmt.Sprintf("pt%d", round)
		a.run("wasm", "push", "bench@v1.0.0", reg.Ref("pt/"+name))
		if round > 1 {
			pt.run("wasm", "rm", fmt.Sprintf("pt%d@v1.0.0", round-1))
			pt.run("gc")
		}
		ptOut := filepath.Join(orasDir, "pt-"+name)
		inTurn(round,
			func() { ptG.add(timed(func() { pt.gmpFetch(name) })) },
			func() {
				ptO.add(timed(func() {
					orasIn(b, orasDir, "pull", "--plain-http", "-o", ptOut, reg.Ref("pt/"+name+":v1.0.0"))
					a.gmpFetch("bench")
				}))
				os.RemoveAll(ptOut)
			})
	}
	push := pushO.median().Seconds() / pushG.median().Seconds()
	pull := pullO.median().Seconds() / pullG.median().Seconds()
	through := ptG.median().Seconds() / ptO.median().Seconds()
	b.ReportMetric(pushG.median().Seconds(), "push-gpmd-s")
	b.ReportMetric(pushO.median().Seconds(), "push-oras-s")
	b.ReportMetric(push, "push-ratio")
	b.ReportMetric(pullG.median().Seconds(), "pull-gpmd-s")
	b.ReportMetric(pullO.median().Seconds(), "pull-oras+fsync-s")
	b.ReportMetric(pull, "pull-ratio")
	b.ReportMetric(ptG.median().Seconds(), "pullthrough-first-gmp-s")
	b.ReportMetric(ptO.median().Seconds(), "oras-pull+local-gmp-s")
	b.ReportMetric(through, "pullthrough-factor")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d rounds of %d MiB, medians: push gpmd/oras throughput %.2f (target >= 0.8), pull %.2f (>= 0.8), pull-through first fetch %.2fx oras pull + local fetch (<= 1.5x)",
		round, len(mod)>>20, push, pull, through)
}
