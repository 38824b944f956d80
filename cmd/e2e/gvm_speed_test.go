package e2e

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// speedRounds is how many times each command runs; the medians compare.
const speedRounds = 21

// `gvm run math add 2 3` with a warm cache takes at most twice the time of
// `gpmd version`, both whole processes, run in turns so that they share
// the machine's load; the medians compare.
func TestGVMRunWarmSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test; skipped with -short")
	}
	g := newGVMEnv(t, "math@v0.0.1")
	g.gvmOK("run", "math", "add", "2", "3") // warm the module and compilation caches

	timeOne := func(bin string, args ...string) time.Duration {
		cmd := exec.Command(bin, args...)
		cmd.Env = g.gvmEnviron()
		cmd.Dir = g.home
		start := time.Now()
		out, err := cmd.Output()
		d := time.Since(start)
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", bin, args, err, out)
		}
		return d
	}
	var gvmRuns, versionRuns []time.Duration
	for range speedRounds {
		gvmRuns = append(gvmRuns, timeOne(gvmBin(t), "run", "math", "add", "2", "3"))
		versionRuns = append(versionRuns, timeOne(gpmdBin, "version"))
	}
	slices.Sort(gvmRuns)
	slices.Sort(versionRuns)
	gvmMed, verMed := gvmRuns[speedRounds/2], versionRuns[speedRounds/2]
	ratio := float64(gvmMed) / float64(verMed)
	t.Logf("median of %d: gvm run math add 2 3 (warm) %v, gpmd version %v, ratio %.2f", speedRounds, gvmMed, verMed, ratio)
	if ratio > 2 {
		t.Errorf("gvm run (warm) takes %.2f× gpmd version; the issue allows 2×", ratio)
	}
}
