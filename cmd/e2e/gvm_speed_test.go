package e2e

import (
	"os/exec"
	"testing"
	"time"
)

// BenchmarkGVMRunWarm: `gvm run math add 2 3` with a warm cache against
// `gpmd version`, both whole processes, run in turns so that they share the
// machine's load. Issue 11 asks for at most 2×: the ratio is reported as
// the metric gvm/version (make bench BENCH=GVMRunWarm).
func BenchmarkGVMRunWarm(b *testing.B) {
	g := newGVMEnv(b, "math@v0.0.1")
	g.gvmOK("run", "math", "add", "2", "3") // warm the module and compilation caches
	timeOne := func(bin string, args ...string) time.Duration {
		cmd := exec.Command(bin, args...)
		cmd.Env = g.gvmEnviron()
		cmd.Dir = g.home
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
		}
		return d
	}
	gvm := gvmBin(b)
	var gvmTotal, versionTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gvmTotal += timeOne(gvm, "run", "math", "add", "2", "3")
		versionTotal += timeOne(gpmdBin, "version")
	}
	b.StopTimer()
	b.ReportMetric(float64(gvmTotal.Microseconds())/float64(b.N), "µs/gvm-run")
	b.ReportMetric(float64(versionTotal.Microseconds())/float64(b.N), "µs/gpmd-version")
	b.ReportMetric(float64(gvmTotal)/float64(versionTotal), "gvm/version")
}
