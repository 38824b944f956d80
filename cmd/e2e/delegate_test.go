package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// Issue 15: gpmd links no engine; the commands that run the daemon or
// open the store in their own process (start --foreground, restore,
// rebuild-index, import, backup) replace gpmd with the gpmd-daemon beside
// it, same pid, same arguments. These tests run the real binaries that
// TestMain built side by side.

// exeOf is the program pid runs, from the kernel (/proc/PID/exe).
func exeOf(t *testing.T, pid int) string {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatalf("exe of pid %d: %v", pid, err)
	}
	return filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
}

// TestStartRunsGPMDDaemon: `gpmd start` leaves a daemon that is
// gpmd-daemon, holding the lock and named by the state file; `gpmd start
// -nd` becomes gpmd-daemon in the same process (the pid a supervisor
// started is the daemon's), and stops on SIGTERM.
func TestStartRunsGPMDDaemon(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	if exe := exeOf(t, st.PID); exe != conf.DaemonProgram {
		t.Errorf("the background daemon runs %s, want %s", exe, conf.DaemonProgram)
	}
	if pid, err := conf.LockHolder(e.dir); err != nil || pid != st.PID {
		t.Errorf("lock holder %d (%v), state file pid %d", pid, err, st.PID)
	}
	e.gpmd("kill")

	f := newEnv(t)
	cmd := exec.Command(gpmdBin, append([]string{"start", "-nd"}, portZero...)...)
	cmd.Env, cmd.Dir = f.environ(), f.home
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	var fg conf.State
	testutil.WaitFor(t, 30*time.Second, "the foreground daemon's state file", func() bool {
		var err error
		fg, err = conf.ReadState(f.dir)
		return err == nil
	})
	if fg.PID != cmd.Process.Pid {
		t.Errorf("the foreground daemon is pid %d, but gpmd was started as pid %d", fg.PID, cmd.Process.Pid)
	}
	if exe := exeOf(t, cmd.Process.Pid); exe != conf.DaemonProgram {
		t.Errorf("gpmd start -nd runs %s, want %s", exe, conf.DaemonProgram)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the deferred wait
		if err != nil {
			t.Fatalf("foreground daemon after SIGTERM: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the foreground daemon did not stop on SIGTERM")
	}
	if !strings.Contains(out.String(), "gpmd stopped") {
		t.Errorf("stdout of gpmd start -nd: %q", out.String())
	}
}

// TestStoreCommandsThroughGPMD: backup, restore, rebuild-index and import
// given to gpmd run (in gpmd-daemon) and do their work.
func TestStoreCommandsThroughGPMD(t *testing.T) {
	e := newEnv(t)
	e.start()
	mod := testutil.Wasm("deleg", 1200)
	e.upload("deleg", "v1.0.0", mod)
	bk := filepath.Join(t.TempDir(), "bk")
	if r := e.gpmd("backup", "--to", bk); !strings.Contains(r.stdout, "Backed up 1 version") {
		t.Fatalf("backup: %v", r)
	}

	// An early store with one version, imported into the running daemon.
	early := t.TempDir()
	early1 := testutil.Wasm("early", 700)
	if err := os.WriteFile(filepath.Join(early, "old-v0.1.0.wasm"), early1, 0o644); err != nil {
		t.Fatal(err)
	}
	store := map[string]any{"old": map[string]any{"name": "old", "versions": map[string]any{
		"v0.1.0": map[string]string{"version": "v0.1.0", "file": "old-v0.1.0.wasm", "hash": digest.FromBytes(early1).Encoded()}}}}
	data, _ := json.Marshal(store)
	if err := os.WriteFile(filepath.Join(early, "ghost.modules.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := e.gpmd("import", "--from", early); !strings.Contains(r.stdout, "Imported old@v0.1.0") {
		t.Fatalf("import: %v", r)
	}
	e.mustGet("old", "v0.1.0", early1)
	e.gpmd("kill")

	g := newEnv(t)
	if r := g.gpmd("restore", "--from", bk); !strings.Contains(r.stdout, "Restored") {
		t.Fatalf("restore: %v", r)
	}
	if r := g.gpmd("rebuild-index", "--force"); !strings.Contains(r.stdout, "Rebuilt") {
		t.Fatalf("rebuild-index: %v", r)
	}
	g.start()
	g.mustGet("deleg", "v1.0.0", mod)
}

// TestDaemonProgramMissing: without gpmd-daemon beside it, gpmd still
// runs its own commands, and each command that needs the engine fails
// with one line that says where gpmd-daemon was looked for and how to
// install it, exit status 1; nothing is started.
func TestDaemonProgramMissing(t *testing.T) {
	lone := filepath.Join(t.TempDir(), "gpmd")
	data, err := os.ReadFile(gpmdBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lone, data, 0o755); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	if err := os.MkdirAll(filepath.Join(e.dir, conf.ModulesDir), 0o700); err != nil {
		t.Fatal(err)
	}
	folder := t.TempDir()
	missing := filepath.Join(filepath.Dir(lone), conf.DaemonProgram)
	run := func(args ...string) result {
		cmd := exec.Command(lone, args...)
		cmd.Env, cmd.Dir = e.environ(), e.home
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{args: args, stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := run("version"); r.code != 0 {
		t.Fatalf("version without gpmd-daemon: %v", r)
	}
	for _, args := range [][]string{
		append([]string{"start", "-nd"}, portZero...),
		append([]string{"start", "--wait", "10s"}, portZero...),
		{"restore", "--from", folder},
		{"rebuild-index"},
		{"import", "--from", folder},
		{"backup", "--to", filepath.Join(folder, "bk")},
	} {
		r := run(args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(r.stderr, missing+" not found") || !strings.Contains(r.stderr, "make install") {
			t.Errorf("want exit 1 and one line naming %s and make install; %v", missing, r)
		}
	}
	e.assertNoDaemon()
}

// TestGPMDDaemonByHand: gpmd-daemon, run by hand, is the same command
// line.
func TestGPMDDaemonByHand(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.upload("hand", "v1.0.0", testutil.Wasm("hand", 300))
	daemonBin := filepath.Join(filepath.Dir(gpmdBin), conf.DaemonProgram)
	for _, args := range [][]string{{"version"}, {"wasm", "list"}, {"status", "-o", "json"}, {"nodes"}} {
		want := e.gpmd(args...)
		cmd := exec.Command(daemonBin, args...)
		cmd.Env, cmd.Dir = e.environ(), e.home
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpmd-daemon %v: %v", args, err)
		}
		if args[0] == "status" {
			// The uptime moves between the two; the rest must agree.
			var a, b map[string]any
			json.Unmarshal([]byte(want.stdout), &a)
			json.Unmarshal(got, &b)
			delete(a, "uptime_seconds")
			delete(b, "uptime_seconds")
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("status: gpmd says %v, gpmd-daemon %v", a, b)
			}
			continue
		}
		if string(got) != want.stdout {
			t.Errorf("%v: gpmd printed %q, gpmd-daemon %q", args, want.stdout, got)
		}
	}
}
