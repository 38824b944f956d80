package fleettest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// NATSServerBin returns the nats-server binary of the test cache, building
// it with scripts/build-nats-server.sh (the one home of how it is built)
// when it is missing or of another version.
func NATSServerBin(t testing.TB) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	var stderr bytes.Buffer
	cmd := exec.Command("sh", filepath.Join(root, "scripts", "build-nats-server.sh"))
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/build-nats-server.sh: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// Process is a nats-server running as a child process with JetStream, on
// 127.0.0.1, storing in a t.TempDir.
type Process struct {
	t        testing.TB
	bin      string
	port     int // 0 until the first start chose one
	storeDir string
	portsDir string
	cmd      *exec.Cmd
	logs     *bytes.Buffer
}

// StartProcess starts nats-server from bin (see NATSServerBin) and waits
// until it accepts connections; it is killed at cleanup.
func StartProcess(t testing.TB, bin string) *Process {
	t.Helper()
	p := &Process{t: t, bin: bin, storeDir: t.TempDir(), portsDir: t.TempDir()}
	p.start()
	t.Cleanup(p.Kill)
	return p
}

func (p *Process) start() {
	p.t.Helper()
	port := "-1"
	if p.port != 0 {
		port = fmt.Sprint(p.port)
	}
	p.logs = &bytes.Buffer{}
	cmd := exec.Command(p.bin, "-a", "127.0.0.1", "-p", port, "-js", "-sd", p.storeDir,
		"--ports_file_dir", p.portsDir)
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("nats-server: %v", err)
	}
	p.cmd = cmd
	// The server writes <exe>_<pid>.ports once it listens; it may be read
	// half-written, so read until it parses.
	portsFile := filepath.Join(p.portsDir, fmt.Sprintf("%s_%d.ports", filepath.Base(p.bin), cmd.Process.Pid))
	deadline := time.Now().Add(readyTimeout)
	for {
		var ports struct {
			Nats []string `json:"nats"`
		}
		b, err := os.ReadFile(portsFile)
		if err == nil && json.Unmarshal(b, &ports) == nil && len(ports.Nats) > 0 {
			var got int
			if _, err := fmt.Sscanf(ports.Nats[0][strings.LastIndex(ports.Nats[0], ":")+1:], "%d", &got); err == nil {
				p.port = got
				return
			}
		}
		if time.Now().After(deadline) {
			p.Kill()
			p.t.Fatalf("nats-server not ready within %s:\n%s", readyTimeout, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the client URL.
func (p *Process) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", p.port) }

// Kill sends SIGKILL and waits; it is idempotent.
func (p *Process) Kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}

// Restart kills the server if it runs and starts it again on the same
// port with the same store.
func (p *Process) Restart() {
	p.t.Helper()
	p.Kill()
	p.start()
}
