package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
)

func TestConfigCheck(t *testing.T) {
	base := conf.Config{DataDir: "/data", ControlAddr: "127.0.0.1:0", GMPAddr: "127.0.0.1:0"}
	if err := checkConfig(&base); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*conf.Config){
		"relative data dir": func(c *conf.Config) { c.DataDir = "data" },
		"bad control addr":  func(c *conf.Config) { c.ControlAddr = "1111" },
		"bad gmp addr":      func(c *conf.Config) { c.GMPAddr = "x" },
		"off loopback":      func(c *conf.Config) { c.ControlAddr = "0.0.0.0:1111" },
		"every interface":   func(c *conf.Config) { c.ControlAddr = ":1111" },
		"bad log format":    func(c *conf.Config) { c.LogFormat = "xml" },
	} {
		c := base
		mod(&c)
		if err := checkConfig(&c); !errors.Is(err, conf.ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	c := base
	c.ControlAddr, c.TokenFile = "0.0.0.0:1111", "/token"
	if err := checkConfig(&c); err != nil {
		t.Errorf("off loopback with a token: %v", err)
	}
}

// TestRun starts a daemon in this process on free loopback ports, uses
// its control API, and stops it by cancelling the context.
func TestRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ready := make(chan conf.State, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, conf.Config{DataDir: dir, ControlAddr: "127.0.0.1:0", GMPAddr: "127.0.0.1:0", Version: "test"}, func(st conf.State) { ready <- st })
	}()
	var st conf.State
	select {
	case st = <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready in 10s")
	}
	if strings.HasSuffix(st.ControlAddr, ":0") || strings.HasSuffix(st.GMPAddr, ":0") {
		t.Fatalf("port 0 not resolved: %+v", st)
	}
	if got, err := conf.ReadState(dir); err != nil || got.ControlAddr != st.ControlAddr || got.PID != os.Getpid() {
		t.Fatalf("state file: %+v %v", got, err)
	}
	c := ctlclient.NewClient(st.ControlAddr, "")
	defer c.Close()
	s, err := c.Status(t.Context())
	if err != nil || s.DataDir != dir || s.Version != "test" || s.GMPAddr != st.GMPAddr {
		t.Fatalf("status: %+v %v", s, err)
	}
	gc, err := net.Dial("tcp", st.GMPAddr)
	if err != nil {
		t.Fatalf("GMP port: %v", err)
	}
	gc.Close()

	// A second Run on the folder fails at once, naming this process.
	err = Run(t.Context(), conf.Config{DataDir: dir, ControlAddr: "127.0.0.1:0", GMPAddr: "127.0.0.1:0"}, nil)
	var re *conf.RunningError
	if !errors.As(err, &re) || re.PID != os.Getpid() {
		t.Fatalf("second Run: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of cancel")
	}
	for _, f := range []string{conf.PIDFile, conf.StateFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after stop (%v)", f, err)
		}
	}
	if _, running, _ := conf.Probe(dir); running {
		t.Error("lock held after stop")
	}
	log, _ := os.ReadFile(filepath.Join(dir, conf.LogFile))
	if !strings.Contains(string(log), `msg="gpmd started"`) || !strings.Contains(string(log), `msg="gpmd stopped"`) || !strings.Contains(string(log), "path=/v1/status status=200") {
		t.Errorf("log:\n%s", log)
	}
}

// TestRunFailsBeforePorts: a start-up failure opens no port and leaves no
// state, and a taken port closes what was opened.
func TestRunFailsBeforePorts(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "data")
	err = Run(t.Context(), conf.Config{DataDir: dir, ControlAddr: "127.0.0.1:0", GMPAddr: taken.Addr().String()}, func(conf.State) { t.Error("ready called") })
	if err == nil || !strings.Contains(err.Error(), "GMP address "+taken.Addr().String()+" is already in use") {
		t.Fatalf("%v", err)
	}
	if _, running, _ := conf.Probe(dir); running {
		t.Error("lock held after a failed start")
	}
	if _, err := os.Stat(filepath.Join(dir, conf.StateFile)); !os.IsNotExist(err) {
		t.Error("state file after a failed start")
	}
	// The modules store was closed: another Run can open it.
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, conf.Config{DataDir: dir, ControlAddr: "127.0.0.1:0", GMPAddr: "127.0.0.1:0"}, func(conf.State) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run after a failed start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestRaiseFDLimit(t *testing.T) {
	lim, err := raiseFDLimit(10, nopLogger())
	if err != nil || lim < minFDLimit {
		t.Fatalf("%d %v", lim, err)
	}
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestGuardAddr: the origin guard gets the configured host on the real
// port.
func TestGuardAddr(t *testing.T) {
	for _, c := range [][3]string{
		{"127.0.0.1:0", "127.0.0.1:4321", "127.0.0.1:4321"},
		{"localhost:0", "127.0.0.1:4321", "localhost:4321"},
		{"gpmd.lan:1111", "10.0.0.5:1111", "gpmd.lan:1111"},
		{":0", "[::]:4321", ":4321"},
		{"0.0.0.0:0", "0.0.0.0:4321", "0.0.0.0:4321"},
	} {
		if got := guardAddr(c[0], c[1]); got != c[2] {
			t.Errorf("guardAddr(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
