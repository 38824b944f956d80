package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// testExpiry is the shortest expiry allowed, so expiry tests stay short.
const testExpiry = MinExpiry

// logBuf is a concurrency-safe log sink (fleets log from their own
// goroutines, possibly after a test ends, so never to t.Log).
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventLog records a fleet's events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (e *eventLog) add(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
}

func (e *eventLog) has(kind EventKind, full string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.ContainsFunc(e.evs, func(ev Event) bool { return ev.Kind == kind && ev.Node.FullName() == full })
}

type member struct {
	*Fleet
	logs   *logBuf
	events *eventLog
}

// join starts a Fleet for device on url, closed at cleanup.
func join(t *testing.T, url, device string, mod ...func(*Config)) member {
	t.Helper()
	m := member{logs: &logBuf{}, events: &eventLog{}}
	cfg := Config{
		URLs: []string{url}, Device: device, Advertise: "127.0.0.2", Expiry: testExpiry,
		Version: "test", Logger: slog.New(slog.NewTextHandler(m.logs, nil)), OnEvent: m.events.add,
	}
	for _, f := range mod {
		f(&cfg)
	}
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", device, m.logs)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.Close(ctx)
	})
	m.Fleet = f
	return m
}

// kill stops a fleet the way SIGKILL would: no deletes, connection gone.
func (f *Fleet) kill() {
	f.stop()
	f.mu.Lock()
	nc := f.nc
	f.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

func waitConnected(t *testing.T, fs ...member) {
	t.Helper()
	for _, f := range fs {
		testutil.WaitFor(t, 10*time.Second, f.cfg.Device+" connected", func() bool { return f.Status().Connected })
	}
}

func register(t *testing.T, f member, name string, port int) {
	t.Helper()
	if err := f.Register(Node{Name: name, ID: "id-" + name, Port: port, Discoverable: true}); err != nil {
		t.Fatal(err)
	}
}

func TestKeyEncodingIsOneToOne(t *testing.T) {
	pairs := [][2]string{{"a.", "b"}, {"a", "b."}, {"a.b", "c"}, {"a", "b.c"}, {"a.b.c", "d"}, {"a_b", "c-d"}, {"x", "y"}}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := nodeKey(p[0], p[1])
		if o, dup := seen[k]; dup {
			t.Fatalf("%v and %v share key %q", o, p, k)
		}
		seen[k] = p
		pk, err := parseKey(k)
		if err != nil || pk.device != p[0] || pk.node != p[1] {
			t.Fatalf("parseKey(%q) = %+v, %v; want %v", k, pk, err, p)
		}
	}
	pk, err := parseKey(deviceKey("dev.1"))
	if err != nil || pk.device != "dev.1" || pk.node != "" {
		t.Fatalf("device key: %+v, %v", pk, err)
	}
	for _, bad := range []string{"a", "a.b.c", "_x.y", "a._y", "a.-b", "=a.b", strings.Repeat("a", 65) + ".b"} {
		if _, err := parseKey(bad); err == nil {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	ok := Config{URLs: []string{"nats://127.0.0.1:1"}, Device: "d", Advertise: "127.0.0.2"}
	if _, err := New(ok); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Config){
		"no url":        func(c *Config) { c.URLs = []string{" , "} },
		"bad device":    func(c *Config) { c.Device = "-d" },
		"long device":   func(c *Config) { c.Device = strings.Repeat("d", 65) },
		"bad advertise": func(c *Config) { c.Advertise = "a b" },
		"expiry long":   func(c *Config) { c.Expiry = 31 * time.Second },
		"expiry short":  func(c *Config) { c.Expiry = time.Second },
		"cert only":     func(c *Config) { c.TLSCert = "x" },
		"missing token": func(c *Config) { c.TokenFile = "/nonexistent/token" },
		"bad bucket":    func(c *Config) { c.Bucket = "a.b" },
	} {
		c := ok
		mod(&c)
		if _, err := New(c); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	f, _ := New(ok)
	if err := f.Register(Node{Name: "n", ID: "i", Port: 70000}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("port out of range: %v", err)
	}
	if got := f.cfg.Heartbeat(); got != (fleetinfo.DefaultExpiry-ExpiryMargin)/3 {
		t.Errorf("heartbeat %s", got)
	}
}

func TestDevicesSeeEachOther(t *testing.T) {
	srv := fleettest.RunServer(t)
	a := join(t, srv.URL(), "dev-a")
	b := join(t, srv.URL(), "dev.b") // a dot in a device name
	c := join(t, srv.URL(), "dev-c")
	waitConnected(t, a, b, c)
	register(t, a, "alpha", 4001)
	register(t, b, "beta.1", 4002)
	if err := c.Register(Node{Name: "hidden", ID: "h", Port: 4003, Discoverable: false}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "c discovers alpha and beta.1", func() bool {
		return slices.Equal(c.Names(), []string{"alpha@dev-a", "beta.1@dev.b"})
	})
	testutil.WaitFor(t, 5*time.Second, "a discovers beta.1 only", func() bool {
		return slices.Equal(a.Names(), []string{"beta.1@dev.b"})
	})
	var n fleetinfo.RemoteNode
	testutil.WaitFor(t, 5*time.Second, "a finds hidden@dev-c (not discoverable)", func() bool {
		var err error
		n, err = a.Lookup("hidden", "dev-c")
		return err == nil
	})
	want := fleetinfo.RemoteNode{Name: "hidden", ID: "h", Device: "dev-c", Address: "127.0.0.2", Port: 4003}
	if n != want {
		t.Fatalf("lookup: %+v, want %+v", n, want)
	}
	if _, err := a.Lookup("alpha", "dev-a"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("own node looked up through the fleet: %v", err)
	}
	if !c.events.has(NodeRegistered, "alpha@dev-a") {
		t.Fatal("no registered event for alpha@dev-a")
	}
	st := c.Status()
	if !st.Connected || !slices.Equal(st.Devices, []string{"dev-a", "dev.b"}) || st.Nodes != 1+1 {
		t.Fatalf("status %+v", st)
	}

	// Unregister: gone from the others within 1 s.
	start := time.Now()
	a.Unregister("alpha")
	testutil.WaitFor(t, time.Second, "alpha gone from b and c", func() bool {
		_, e1 := b.Lookup("alpha", "dev-a")
		_, e2 := c.Lookup("alpha", "dev-a")
		return e1 != nil && e2 != nil
	})
	t.Logf("unregister visible on the other devices after %s", time.Since(start))
	if !c.events.has(NodeUnregistered, "alpha@dev-a") {
		t.Fatal("no unregistered event for alpha@dev-a")
	}

	// A clean Close deletes at once.
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, time.Second, "dev.b gone after its Close", func() bool {
		return len(c.Names()) == 0 && !slices.Contains(c.Status().Devices, "dev.b")
	})
	t.Logf("close visible after %s", time.Since(start))
}

func TestKilledDeviceExpires(t *testing.T) {
	srv := fleettest.RunServer(t)
	a := join(t, srv.URL(), "dev-a")
	b := join(t, srv.URL(), "dev-b")
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	testutil.WaitFor(t, 5*time.Second, "b sees alpha", func() bool { return len(b.Names()) == 1 })
	// Let one heartbeat pass, so the kill is not just after a write.
	time.Sleep(a.cfg.Heartbeat() + 200*time.Millisecond)
	killed := time.Now()
	a.kill()
	testutil.WaitFor(t, testExpiry+2*time.Second, "alpha expired on b", func() bool {
		_, err := b.Lookup("alpha", "dev-a")
		return err != nil
	})
	gone := time.Since(killed)
	t.Logf("killed device's node gone after %s (expiry %s)", gone, testExpiry)
	if gone > testExpiry {
		t.Fatalf("gone after %s, beyond the expiry %s", gone, testExpiry)
	}
	if !b.events.has(NodeUnregistered, "alpha@dev-a") {
		t.Fatal("no unregistered event on expiry")
	}
	if slices.Contains(b.Status().Devices, "dev-a") {
		t.Fatal("dev-a still listed")
	}
}

func TestServerRestart(t *testing.T) {
	srv := fleettest.RunServer(t)
	a := join(t, srv.URL(), "dev-a")
	b := join(t, srv.URL(), "dev-b")
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	register(t, b, "beta", 4002)
	testutil.WaitFor(t, 5*time.Second, "both see each other", func() bool {
		return len(a.Names()) == 1 && len(b.Names()) == 1
	})

	srv.Stop()
	testutil.WaitFor(t, 5*time.Second, "disconnected", func() bool { return !a.Status().Connected })
	// Still served from the local copy right after the loss...
	if _, err := a.Lookup("beta", "dev-b"); err != nil {
		t.Fatalf("local copy dropped at once: %v", err)
	}
	// ...and cleared once unreachable for the expiry, with a message that
	// says why.
	testutil.WaitFor(t, testExpiry+3*time.Second, "remote entries cleared", func() bool { return len(a.Names()) == 0 })
	_, err := a.Lookup("beta", "dev-b")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "the fleet is unreachable") {
		t.Fatalf("lookup while unreachable: %v", err)
	}
	// Registrations made while away are written after the reconnect.
	register(t, a, "alpha2", 4003)

	restarted := time.Now()
	srv.Restart()
	testutil.WaitFor(t, testExpiry+5*time.Second, "converged after the restart", func() bool {
		return slices.Equal(b.Names(), []string{"alpha2@dev-a", "alpha@dev-a"}) &&
			slices.Equal(a.Names(), []string{"beta@dev-b"})
	})
	took := time.Since(restarted)
	t.Logf("converged %s after the server restart (expiry %s)", took, testExpiry)
	if took > testExpiry {
		t.Fatalf("converged after %s, beyond the expiry %s", took, testExpiry)
	}
}

func TestUnreachableAtStart(t *testing.T) {
	// A port with nothing behind it: Start returns at once anyway.
	srv := fleettest.RunServer(t)
	url := srv.URL()
	srv.Stop()
	start := time.Now()
	a := join(t, url, "dev-a")
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("New+Start took %s with NATS down", d)
	}
	register(t, a, "alpha", 4001)
	time.Sleep(300 * time.Millisecond)
	st := a.Status()
	if st.Connected || st.Device != "dev-a" || st.URL != url {
		t.Fatalf("status %+v", st)
	}
	if _, err := a.Lookup("x", "dev-b"); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("lookup: %v", err)
	}
	// The server comes up: a connects in the background and writes alpha.
	srv.Restart()
	b := join(t, url, "dev-b")
	testutil.WaitFor(t, 10*time.Second, "alpha visible once NATS is up", func() bool { return len(b.Names()) == 1 })
}

func TestNoDependencyOnTheServer(t *testing.T) {
	// The fleet's non-test code must never pull in the NATS server.
	out := goList(t, "-deps", ".")
	if strings.Contains(out, "nats-server") {
		t.Fatalf("github.com/ghost-network/gpmd/fleet depends on nats-server:\n%s", out)
	}
	if !strings.Contains(out, "github.com/nats-io/nats.go/jetstream") {
		t.Fatalf("go list output without jetstream (bad test?):\n%s", out)
	}
	// gpmd-daemon links the fleet (gpmd links none of it: cmd/gpmd's
	// TestLightDependencies).
	if out := goList(t, "-deps", "../cmd/gpmd-daemon"); strings.Contains(out, "nats-server") {
		t.Fatal("cmd/gpmd-daemon depends on nats-server")
	}
}

func ExampleFleet() {
	f, err := New(Config{URLs: []string{"nats://nats.example:4222"}, Device: "kitchen", Advertise: "192.0.2.10"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The daemon calls f.Start(ctx) (it returns at once and connects in
	// the background) and f.Close(ctx) when it stops. Without a
	// connection, lookups answer from the (empty) local copy and say why.
	_ = f.Register(Node{Name: "node-1", ID: "a1", Port: 40001, Discoverable: true})
	_, err = f.Lookup("node-7", "garage")
	fmt.Println(errors.Is(err, errdefs.ErrNotFound), strings.Contains(err.Error(), "the fleet is unreachable"))
	// Output: true true
}

func TestRestartedDeviceDeletesLeftovers(t *testing.T) {
	srv := fleettest.RunServer(t)
	a := join(t, srv.URL(), "dev-a")
	b := join(t, srv.URL(), "dev-b")
	waitConnected(t, a, b)
	register(t, a, "alpha", 4001)
	register(t, a, "kept", 4002)
	testutil.WaitFor(t, 5*time.Second, "b sees alpha and kept", func() bool { return len(b.Names()) == 2 })
	a.kill()
	// dev-a comes back (a new process) before the expiry; kept registers
	// again at once, alpha does not.
	a2 := join(t, srv.URL(), "dev-a", func(c *Config) { c.Expiry = 15 * time.Second })
	register(t, a2, "kept", 4002)
	start := time.Now()
	testutil.WaitFor(t, time.Second, "alpha's leftover deleted", func() bool {
		return slices.Equal(b.Names(), []string{"kept@dev-a"})
	})
	t.Logf("leftover of the previous run gone after %s", time.Since(start))
}
