package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// runDaemon runs a daemon in this process until the test ends (or stop is
// called) and returns its state once it is ready.
func runDaemon(t testing.TB, cfg conf.Config) (conf.State, func()) {
	t.Helper()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.ControlAddr, cfg.GMPAddr, cfg.Version = "127.0.0.1:0", "127.0.0.1:0", "test"
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan conf.State, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, func(st conf.State) { ready <- st }) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return within 15s of cancel")
		}
	}
	t.Cleanup(stop)
	select {
	case st := <-ready:
		return st, stop
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready in 10s")
	}
	return conf.State{}, nil
}

// TestFleetSettingsFailFast: bad fleet settings stop the start before any
// port opens, with conf.ErrConfig.
func TestFleetSettingsFailFast(t *testing.T) {
	ok := conf.Config{Fleet: "nats://127.0.0.1:1", Device: "d1", Advertise: "127.0.0.2"}
	for name, mod := range map[string]func(*conf.Config){
		"no advertise":        func(c *conf.Config) { c.Advertise = "" },
		"bad advertise":       func(c *conf.Config) { c.Advertise = "not an address" },
		"advertise 0.0.0.0":   func(c *conf.Config) { c.Advertise = "0.0.0.0" },
		"advertise with port": func(c *conf.Config) { c.Advertise = "127.0.0.2:7000" },
		"bad device":          func(c *conf.Config) { c.Device = "-d" },
		"expiry over 30s":     func(c *conf.Config) { c.FleetExpiry = 31 * time.Second },
		"expiry under 3s":     func(c *conf.Config) { c.FleetExpiry = time.Second },
		"missing token file":  func(c *conf.Config) { c.FleetTokenFile = "/nonexistent/token" },
		"cert without a key":  func(c *conf.Config) { c.FleetTLSCert = "/etc/hostname" },
		"missing credentials": func(c *conf.Config) { c.FleetCreds = "/nonexistent/creds" },
	} {
		cfg := ok
		mod(&cfg)
		cfg.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.ControlAddr, cfg.GMPAddr = "127.0.0.1:0", "127.0.0.1:0"
		err := Run(t.Context(), cfg, func(conf.State) { t.Errorf("%s: ready called", name) })
		if !errors.Is(err, conf.ErrConfig) {
			t.Errorf("%s: %v, want conf.ErrConfig", name, err)
		}
		if _, err := conf.ReadState(cfg.DataDir); err == nil {
			t.Errorf("%s: a state file after a failed start", name)
		}
	}
}

// TestRunInFleet: two daemons of this process join one NATS server; a node
// of one is found by the other over GMP, both control APIs show the fleet,
// and a daemon that stops takes its nodes out of the other at once.
func TestRunInFleet(t *testing.T) {
	ns := fleettest.RunServer(t)
	a, stopA := runDaemon(t, conf.Config{Fleet: ns.URL(), Device: "alpha", Advertise: "127.0.0.2", FleetExpiry: 3 * time.Second})
	b, _ := runDaemon(t, conf.Config{Fleet: ns.URL(), Device: "beta", Advertise: "127.0.0.3", FleetExpiry: 3 * time.Second})

	ca := dialGMP(t, a.GMPAddr)
	if _, err := ca.Register(t.Context(), "svc", "id-1", 4000, true); err != nil {
		t.Fatal(err)
	}
	cb := dialGMP(t, b.GMPAddr)
	w, err := cb.Hello(t.Context(), "test")
	if err != nil || !slices.Contains(w.Features, wire.FeatureFleet) {
		t.Fatalf("WELCOME %+v, %v", w, err)
	}
	testutil.WaitFor(t, 5*time.Second, "svc@alpha on beta", func() bool {
		names, err := cb.DiscoverFleet(t.Context())
		return err == nil && slices.Equal(names, []string{"svc@alpha"})
	})
	if n, err := cb.Connect(t.Context(), "svc@alpha"); err != nil || n.Address != "127.0.0.2" || n.Device != "alpha" || n.Port != 4000 {
		t.Fatalf("CONNECT svc@alpha = %+v, %v", n, err)
	}

	ctl := ctlclient.NewClient(b.ControlAddr, "")
	defer ctl.Close()
	st, err := ctl.Status(t.Context())
	if err != nil || st.Fleet == nil || !st.Fleet.Connected || st.Fleet.Device != "beta" || !slices.Equal(st.Fleet.Devices, []string{"alpha"}) || st.Fleet.Expiry != 3*time.Second {
		t.Fatalf("status fleet = %+v, %v", st.Fleet, err)
	}
	nl, err := ctl.Nodes(t.Context())
	if err != nil || nl.Device != "beta" || len(nl.Fleet) != 1 || nl.Fleet[0].FullName() != "svc@alpha" {
		t.Fatalf("nodes = %+v, %v", nl, err)
	}

	// The daemon publishes alpha's node changes as fleet-scope events:
	// over GMP (SUBSCRIBE with scope fleet) and the control API's stream
	// (scope=fleet).
	sub, err := dialGMP(t, b.GMPAddr).SubscribeFleet(t.Context(), events.TopicNodes)
	if err != nil || !slices.Equal(sub.Subscribed.Nodes, []string{"svc@alpha"}) {
		t.Fatalf("SUBSCRIBE fleet: %+v, %v", sub, err)
	}
	stream := make(chan api.StreamMessage, 16)
	sctx, stopStream := context.WithCancel(t.Context())
	defer stopStream()
	go ctl.Events(sctx, events.TopicNodes, api.ScopeFleet, 0, func(m api.StreamMessage) error {
		stream <- m
		return nil
	})
	if m := <-stream; m.Kind != api.StreamSubscribed || m.Start.Scope != api.ScopeFleet || !slices.Equal(m.Start.Nodes, []string{"svc@alpha"}) {
		t.Fatalf("stream start = %+v", m)
	}
	if _, err := dialGMP(t, a.GMPAddr).Register(t.Context(), "svc2", "id-2", 4001, true); err != nil {
		t.Fatal(err)
	}
	if e, err := sub.Next(t.Context()); err != nil || e.Event != events.Registered || e.Name != "svc2@alpha" || e.Device != "alpha" || e.Address != "127.0.0.2" || e.Port != 4001 {
		t.Fatalf("GMP fleet event %+v, %v", e, err)
	}
	select {
	case m := <-stream:
		if e := m.Event; e.Event != events.Registered || e.Name != "svc2@alpha" || e.Device != "alpha" {
			t.Fatalf("stream fleet event %+v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no fleet event on the control API's stream")
	}

	// alpha stops: it leaves the fleet before GMP closes, so beta drops
	// its nodes at once rather than at the expiry.
	start := time.Now()
	stopA()
	testutil.WaitFor(t, 2*time.Second, "alpha's nodes gone from beta", func() bool {
		names, err := cb.DiscoverFleet(t.Context())
		return err == nil && len(names) == 0
	})
	if d := time.Since(start); d > time.Second {
		t.Errorf("a stopped daemon's nodes left the others after %s, want at once", d)
	}
	// ...and the fleet-scope subscriber was told of each.
	left := map[string]bool{}
	for len(left) < 2 {
		e, err := sub.Next(t.Context())
		if err != nil || e.Event != events.Unregistered || e.Device != "alpha" {
			t.Fatalf("after alpha stopped: %+v, %v", e, err)
		}
		left[e.Name] = true
	}
	if !left["svc@alpha"] || !left["svc2@alpha"] {
		t.Fatalf("unregistered events for %v", left)
	}
}

// TestRunFleetUnreachable: a daemon whose NATS server is not there starts
// at once, serves its device and says in status that the fleet is away.
func TestRunFleetUnreachable(t *testing.T) {
	start := time.Now()
	st, _ := runDaemon(t, conf.Config{Fleet: "nats://127.0.0.1:1", Device: "lonely", Advertise: "127.0.0.2"})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("start took %s with NATS unreachable", d)
	}
	c := dialGMP(t, st.GMPAddr)
	if _, err := c.Register(t.Context(), "svc", "i", 1, true); err != nil {
		t.Fatal(err)
	}
	if names, err := c.DiscoverFleet(t.Context()); err != nil || !slices.Equal(names, []string{"svc"}) {
		t.Fatalf("DISCOVER fleet = %q, %v", names, err)
	}
	if _, err := c.Connect(t.Context(), "x@elsewhere"); err == nil || !strings.Contains(err.Error(), "the fleet is unreachable") {
		t.Fatalf("CONNECT x@elsewhere = %v", err)
	}
	ctl := ctlclient.NewClient(st.ControlAddr, "")
	defer ctl.Close()
	s, err := ctl.Status(t.Context())
	if err != nil || s.Fleet == nil || s.Fleet.Connected || s.Fleet.URL != "nats://127.0.0.1:1" {
		t.Fatalf("status fleet = %+v, %v", s.Fleet, err)
	}
}

// TestRunWithoutFleet: no --fleet, no fleet: WELCOME does not offer fleet,
// status and nodes carry no fleet.
func TestRunWithoutFleet(t *testing.T) {
	st, _ := runDaemon(t, conf.Config{})
	w, err := dialGMP(t, st.GMPAddr).Hello(t.Context(), "test")
	if err != nil || w.Has(wire.FeatureFleet) {
		t.Fatalf("WELCOME %+v, %v", w, err)
	}
	ctl := ctlclient.NewClient(st.ControlAddr, "")
	defer ctl.Close()
	if s, err := ctl.Status(t.Context()); err != nil || s.Fleet != nil {
		t.Fatalf("status fleet = %+v, %v", s.Fleet, err)
	}
	if nl, err := ctl.Nodes(t.Context()); err != nil || nl.Fleet != nil || nl.Device != "" {
		t.Fatalf("nodes = %+v, %v", nl, err)
	}
	// The fleet scope of events is a feature it does not offer.
	var pe *client.ProtocolError
	if _, err := dialGMP(t, st.GMPAddr).SubscribeFleet(t.Context(), events.TopicNodes); !errors.As(err, &pe) || pe.Code != wire.ErrCodeUnknownMessage {
		t.Fatalf("SUBSCRIBE fleet without a fleet: %v, want unknown_message", err)
	}
	if err := ctl.Events(t.Context(), events.TopicNodes, api.ScopeFleet, 0, func(api.StreamMessage) error { return nil }); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("the stream's fleet scope without a fleet: %v, want invalid", err)
	}
}

func dialGMP(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(t.Context(), addr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFleetDeviceDefault: without --device the device is the host name,
// or the start fails asking for --device when the host name is no device
// name; without --fleet there is no fleet at all.
func TestFleetDeviceDefault(t *testing.T) {
	if _, ok, err := fleetConfig(&conf.Config{Device: "d", Advertise: "127.0.0.2"}); ok || err != nil {
		t.Fatalf("no --fleet: ok %v, err %v", ok, err)
	}
	c := conf.Config{Fleet: "nats://127.0.0.1:1", Advertise: "127.0.0.2", FleetExpiry: fleetinfo.DefaultExpiry}
	fc, ok, err := fleetConfig(&c)
	host, _ := os.Hostname()
	if fleet.ValidName(host) {
		if err != nil || !ok || fc.Device != host {
			t.Fatalf("device %q, ok %v, err %v; want the host name %q", fc.Device, ok, err, host)
		}
	} else if !errors.Is(err, conf.ErrConfig) || !strings.Contains(err.Error(), "--device") {
		t.Fatalf("host name %q: err %v, want conf.ErrConfig asking for --device", host, err)
	}
}
