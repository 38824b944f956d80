package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
)

// TestSystemdNotify: `gpmd start --foreground` under a NOTIFY_SOCKET of
// the test's own sends READY=1 once both ports accept, WATCHDOG=1 every
// half of WATCHDOG_USEC, and STOPPING=1 on SIGTERM, then exits 0; it logs
// to stderr (journald's input), not to gpmd.log.
func TestSystemdNotify(t *testing.T) {
	e := newEnv(t)
	sockPath := filepath.Join(t.TempDir(), "notify.sock")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sock.Close()
	recv := func(d time.Duration) string {
		t.Helper()
		sock.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 512)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no notification within %s: %v", d, err)
		}
		return string(buf[:n])
	}

	cmd := gpmdCmd(e, append([]string{"start", "--foreground"}, portZero...)...)
	cmd.Env = append(cmd.Env, "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=300000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	exited := startKilledAtEnd(t, cmd)

	if got := recv(15 * time.Second); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	// READY means both ports accept now.
	st, err := conf.ReadState(e.dir)
	if err != nil {
		t.Fatalf("state file at READY=1: %v", err)
	}
	for _, addr := range []string{st.ControlAddr, st.GMPAddr} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("%s does not accept at READY=1: %v", addr, err)
		}
		c.Close()
	}
	if st.PID != cmd.Process.Pid {
		t.Errorf("state pid %d, the process is %d", st.PID, cmd.Process.Pid)
	}
	for range 2 {
		if got := recv(5 * time.Second); got != "WATCHDOG=1" {
			t.Fatalf("notification %q, want WATCHDOG=1", got)
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	for {
		got := recv(15 * time.Second)
		if got == "STOPPING=1" {
			break
		}
		if got != "WATCHDOG=1" {
			t.Fatalf("notification %q while stopping", got)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), `msg="gpmd started"`) || !strings.Contains(stderr.String(), `msg="gpmd stopped"`) {
		t.Errorf("stderr lacks the log:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(e.dir, conf.LogFile)); !os.IsNotExist(err) {
		t.Errorf("a foreground daemon wrote %s (%v): its log belongs to stderr", conf.LogFile, err)
	}
}

// TestLogRotation: the background daemon's gpmd.log rotates by
// --log-max-size and keeps --log-keep files, and not one request line is
// lost across the rotations; every log file is 0600.
func TestLogRotation(t *testing.T) {
	e := newEnv(t)
	const maxSize, keep, requests = 4 << 10, 100, 300
	st := e.start("--log-max-size", fmt.Sprint(maxSize), "--log-keep", fmt.Sprint(keep))
	cl := &http.Client{Timeout: 10 * time.Second}
	for i := range requests {
		resp, err := cl.Get(fmt.Sprintf("http://%s/v1/status?n=%d", st.ControlAddr, i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	e.gpmd("kill")

	seen := map[string]bool{}
	files := 0
	for i := 0; i <= keep; i++ {
		p := filepath.Join(e.dir, conf.LogFile)
		if i > 0 {
			p += fmt.Sprintf(".%d", i)
		}
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		fi, _ := os.Stat(p)
		if fi.Size() > maxSize {
			t.Errorf("%s: %d bytes, over --log-max-size %d", p, fi.Size(), maxSize)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			l := sc.Text()
			if !strings.HasPrefix(l, "time=") {
				t.Errorf("%s: a broken line %q", p, l)
			}
			if _, q, ok := strings.Cut(l, ` query="n=`); ok {
				seen[strings.TrimSuffix(strings.Fields(q)[0], `"`)] = true
			}
		}
	}
	if files < 3 {
		t.Errorf("%d log files: the log did not rotate", files)
	}
	if len(seen) != requests {
		t.Errorf("%d of %d request lines found across the log files", len(seen), requests)
	}
}

// TestFailedStartLeavesTheLogAlone: a second `gpmd start` on a running
// daemon's folder (in another log format) fails and writes nothing into
// the running daemon's log.
func TestFailedStartLeavesTheLogAlone(t *testing.T) {
	e := newEnv(t)
	e.start("--log-format", "json")
	logPath := filepath.Join(e.dir, conf.LogFile)
	before, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		append([]string{"start", "--log-format", "text"}, portZero...),
		append([]string{"start", "-nd", "--log-format", "text"}, portZero...),
	} {
		r := e.run(nil, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "already running") {
			t.Fatalf("second start: %v", r)
		}
	}
	after, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a failed start wrote into the running daemon's log:\n%s", after[len(before):])
	}
	for l := range strings.Lines(string(after)) {
		if !json.Valid([]byte(l)) {
			t.Errorf("a line that is not JSON in a --log-format json log: %q", l)
		}
	}
}

// startKilledAtEnd starts cmd and returns the channel of its exit; the
// process is killed (and reaped, for a bounded time) when the test ends.
func startKilledAtEnd(t *testing.T, cmd *osexec.Cmd) <-chan error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1) // for the test
	reaped := make(chan struct{}) // for the cleanup, which may come after the test read exited
	go func() { exited <- cmd.Wait(); close(reaped) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-reaped:
		case <-time.After(5 * time.Second):
		}
	})
	return exited
}
