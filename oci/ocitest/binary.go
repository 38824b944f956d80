package ocitest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// registryStartTimeout bounds the wait for the registry binary to answer
// /v2/ (it starts in well under a second; a loaded CI machine is slower).
const registryStartTimeout = 30 * time.Second

// CacheDir returns the folder scripts/build-tools.sh builds tools into:
// $GPMD_TEST_CACHE/bin, else ${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test/bin.
func CacheDir() string {
	if d := os.Getenv("GPMD_TEST_CACHE"); d != "" {
		return filepath.Join(d, "bin")
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "gpmd-test", "bin")
}

// toolBuildTimeout bounds scripts/build-tools.sh when a test runs it.
const toolBuildTimeout = 15 * time.Minute

// Tool returns the path of a tool scripts/build-tools.sh built ("registry",
// "oras"). Where it has not been built yet, the test set-up runs the script
// (from the Go module proxy, cached): a test that needs a tool never skips.
// `make test` builds them first (make tools), so this is the fallback of a
// bare `go test`.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(CacheDir(), name)
	if isExecutable(p) {
		return p
	}
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "scripts", "build-tools.sh")
	ctx, cancel := context.WithTimeout(context.Background(), toolBuildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	if !isExecutable(p) {
		t.Fatalf("%s ran but left no %s", script, p)
	}
	return p
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// StartBinary starts the real `registry` binary on 127.0.0.1 with a
// filesystem store in a temp folder, waits until it answers /v2/, and stops
// it at cleanup (SIGTERM, then SIGKILL after 10 s).
func StartBinary(t testing.TB) *Registry {
	t.Helper()
	bin := Tool(t, "registry")
	dir := t.TempDir()
	// The registry binary takes an address, not a listener: pick a free
	// port, free it, and retry on the rare loss of the race for it.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		r, err := startBinary(t, bin, dir, port)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("registry binary: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startBinary(t testing.TB, bin, dir string, port int) (*Registry, error) {
	host := fmt.Sprintf("127.0.0.1:%d", port)
	storage := filepath.Join(dir, "storage")
	// Config keys as the registry's configuration docs give them; bound to
	// loopback only, no access log, no upload purging.
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: gpmd-test-secret
`, storage, host)
	cfgPath := filepath.Join(dir, fmt.Sprintf("config-%d.yml", port))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", port))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// No telemetry exporters: the only traffic is to 127.0.0.1.
	cmd.Env = append(os.Environ(), "OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	url := "http://" + host
	ctx, cancel := context.WithTimeout(context.Background(), registryStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("exited before answering (%v): %s", err, strings.TrimSpace(string(log)))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v2/", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				r := &Registry{Host: host, URL: url, stop: stop}
				t.Cleanup(r.Stop)
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			stop()
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("did not answer /v2/ within %s: %s", registryStartTimeout, strings.TrimSpace(string(log)))
		case <-time.After(50 * time.Millisecond):
		}
	}
}
