package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// gpmdBin is the binary TestMain builds for every test of the package.
var gpmdBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gpmd-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Both programs, into one folder, as make build and make install put
	// them: gpmd hands start --foreground, restore, rebuild-index, import
	// and backup to the gpmd-daemon beside it.
	gpmdBin = filepath.Join(dir, "gpmd")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "github.com/ghost-network/gpmd/cmd/gpmd", "github.com/ghost-network/gpmd/cmd/gpmd-daemon")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gpmd:", err)
		return 1
	}
	return m.Run()
}

// commandTimeout bounds every gpmd command a test runs.
const commandTimeout = 60 * time.Second

// env is one user's world: a data folder, a home folder and environment.
type env struct {
	t    testing.TB
	dir  string   // data folder (GPMD_HOME)
	home string   // HOME, so nothing touches the real ~/.ghost-network
	vars []string // extra KEY=VALUE
}

// newEnv makes an environment whose daemons are stopped when the test ends.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: filepath.Join(t.TempDir(), "data"), home: t.TempDir()}
	t.Cleanup(e.stopDaemons)
	return e
}

// result of one command.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return fmt.Sprintf("gpmd %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// environ is the environment of a command: the test's own without any
// GPMD_ variable, then this env's.
func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GPMD_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, "GPMD_HOME="+e.dir, "HOME="+e.home)
	return append(out, e.vars...)
}

// run runs gpmd with args and stdin (nil: none).
func (e *env) run(stdin []byte, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gpmdBin, args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("gpmd %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		e.t.Fatalf("gpmd %v did not finish within %s", args, commandTimeout)
	}
	return r
}

// gpmd runs a command that must succeed.
func (e *env) gpmd(args ...string) result {
	e.t.Helper()
	r := e.run(nil, args...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	return r
}

// portZero are the address flags of a daemon on free loopback ports.
var portZero = []string{"--control-addr", "127.0.0.1:0", "--gmp-addr", "127.0.0.1:0"}

// start starts a detached daemon on free loopback ports and returns its
// state as recorded in the data folder.
func (e *env) start(extra ...string) conf.State {
	e.t.Helper()
	r := e.run(nil, append(append([]string{"start"}, portZero...), extra...)...)
	if r.code != 0 {
		e.t.Fatalf("%v", r)
	}
	if !strings.HasPrefix(r.stdout, "GPMD is running in the background.\n") {
		e.t.Fatalf("start printed %q", r.stdout)
	}
	st, err := conf.ReadState(e.dir)
	if err != nil {
		e.t.Fatalf("state file after start: %v", err)
	}
	for _, want := range []string{fmt.Sprintf("pid:     %d", st.PID), "control: " + st.ControlAddr, "gmp:     " + st.GMPAddr} {
		if !strings.Contains(r.stdout, want) {
			e.t.Fatalf("start output lacks %q:\n%s", want, r.stdout)
		}
	}
	return st
}

// stopDaemons stops any daemon still holding the data folder: SIGTERM,
// then SIGKILL, each with a bounded wait.
func (e *env) stopDaemons() {
	pid, running, err := conf.Probe(e.dir)
	if err != nil || !running || pid <= 0 {
		return
	}
	e.t.Logf("cleanup: stopping gpmd pid %d", pid)
	syscall.Kill(pid, syscall.SIGTERM)
	if e.waitStopped(10 * time.Second) {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if !e.waitStopped(5 * time.Second) {
		e.t.Errorf("gpmd pid %d still holds %s after SIGKILL", pid, e.dir)
	}
}

// waitStopped waits until no daemon holds the data folder.
func (e *env) waitStopped(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, running, _ := conf.Probe(e.dir); !running {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// running reports whether a daemon holds the data folder.
func (e *env) running() bool {
	_, running, _ := conf.Probe(e.dir)
	return running
}

// file writes data to a new file in the test's temp folder.
func (e *env) file(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// secret writes data to a new private (0600) file in the test's temp
// folder: a token file, which gpmd refuses when others may read it.
func (e *env) secret(name string, data []byte) string {
	e.t.Helper()
	p := e.file(name, data)
	if err := os.Chmod(p, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// jsonOf runs gpmd with args (which print JSON) and decodes the output
// into v.
func (e *env) jsonOf(v any, args ...string) {
	e.t.Helper()
	r := e.gpmd(args...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		e.t.Fatalf("gpmd %s: %v\n%v", strings.Join(args, " "), err, r)
	}
}

// listJSON is `gpmd wasm list -o json`, decoded.
func (e *env) listJSON() []index.Module {
	e.t.Helper()
	r := e.gpmd("wasm", "list", "-o", "json")
	var list struct {
		Modules []index.Module `json:"modules"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		e.t.Fatalf("list -o json: %v\n%s", err, r.stdout)
	}
	return list.Modules
}

// freePort is a loopback port that nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// oneLine fails unless s is exactly one non-empty line.
func oneLine(t *testing.T, r result) string {
	t.Helper()
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Fatalf("want one line on stderr; %v", r)
	}
	return s
}

// logLine waits (10s at most) for the daemon's log to hold a line with
// substr and returns it; the test fails naming what (the request it
// looked for) when none comes.
func (e *env) logLine(substr, what string) string {
	e.t.Helper()
	logPath := filepath.Join(e.dir, conf.LogFile)
	var line string
	if !testutil.Eventually(10*time.Second, func() bool {
		data, _ := os.ReadFile(logPath)
		for l := range strings.Lines(string(data)) {
			if strings.Contains(l, substr) {
				line = l
				return true
			}
		}
		return false
	}) {
		data, _ := os.ReadFile(logPath)
		e.t.Fatalf("no log line for %s:\n%s", what, data)
	}
	return line
}

// follower is a gpmd command that runs until Ctrl-C (`events`, `nodes
// --watch`), its standard output read line by line.
type follower struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *lockedBuffer
	lines  chan string // closed at the end of its output
}

// follow starts gpmd with args and e's environment in the background; it
// is killed at cleanup if still running.
func (e *env) follow(t *testing.T, args ...string) *follower {
	t.Helper()
	cmd := exec.Command(gpmdBin, args...)
	cmd.Env = e.environ()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &follower{t: t, cmd: cmd, stderr: &lockedBuffer{}, lines: make(chan string, 64)}
	cmd.Stderr = f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	return f
}

// line is the next line of standard output; the test fails when none
// comes within 10 s or the output ends. what names the follower.
func (f *follower) line(what string) string {
	f.t.Helper()
	select {
	case l, ok := <-f.lines:
		if !ok {
			f.t.Fatalf("%s ended (stderr: %s)", what, f.stderr.String())
		}
		return l
	case <-time.After(10 * time.Second):
		f.t.Fatalf("%s: no line within 10 s", what)
		return ""
	}
}

// interrupt sends Ctrl-C (SIGINT); the command must end with status 0
// within 10 s.
func (f *follower) interrupt() {
	f.t.Helper()
	f.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- f.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			f.t.Errorf("%v after Ctrl-C: %v", f.cmd.Args, err)
		}
	case <-time.After(10 * time.Second):
		f.t.Fatalf("%v did not end on Ctrl-C", f.cmd.Args)
	}
}
