package gmp

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// fleetDevice is one device of a test fleet: a real GMP server whose
// registry reports to a real fleet.Fleet on a shared NATS server.
type fleetDevice struct {
	*testServer
	name  string
	fleet *fleet.Fleet
}

// startFleetDevice joins device to the fleet of the NATS server at url and
// serves GMP for it on 127.0.0.1:0; advertise is its advertised address.
//
// Its remote node changes are published to its event hub as the daemon
// does it (FleetEvents), so SUBSCRIBE with fleet scope works on it.
func startFleetDevice(t testing.TB, url, device, advertise string) *fleetDevice {
	t.Helper()
	hub := events.New(events.Options{})
	f, err := fleet.New(fleet.Config{URLs: []string{url}, Device: device, Advertise: advertise,
		Expiry: fleet.MinExpiry, Logger: slog.New(slog.DiscardHandler), OnEvent: FleetEvents(hub)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		f.Close(ctx)
	})
	ts := startServer(t, Config{Fleet: f, Device: device, Events: hub})
	return &fleetDevice{testServer: ts, name: device, fleet: f}
}

func dialClient(t testing.TB, addr string) *client.Client {
	t.Helper()
	c, err := client.Dial(t.Context(), addr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFleetNames polls DISCOVER with fleet scope on c until it equals want.
func waitFleetNames(t testing.TB, c *client.Client, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		got, err = c.DiscoverFleet(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DISCOVER fleet = %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFleetScope: two GMP servers on one NATS server find each other's
// nodes by DISCOVER with fleet scope and CONNECT of name@device; a node
// whose connection closes leaves the other device at once.
func TestFleetScope(t *testing.T) {
	ns := fleettest.RunServer(t)
	a := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	b := startFleetDevice(t, ns.URL(), "garage", "127.0.0.3")

	ca, cb := dialClient(t, a.addr), dialClient(t, b.addr)
	w, err := ca.Hello(t.Context(), "test/1")
	if err != nil || !slices.Contains(w.Features, wire.FeatureFleet) {
		t.Fatalf("WELCOME %+v (%v): want feature fleet", w, err)
	}
	if _, err := ca.Register(t.Context(), "oven", "id-oven", 4001, true); err != nil {
		t.Fatal(err)
	}
	hidden := dialClient(t, a.addr)
	if _, err := hidden.Register(t.Context(), "secret.v1", "id-secret", 4002, false); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Register(t.Context(), "car", "id-car", 5001, true); err != nil {
		t.Fatal(err)
	}

	waitFleetNames(t, cb, []string{"car", "oven@kitchen"})
	waitFleetNames(t, ca, []string{"car@garage", "oven"})
	// Device scope, explicit or not, is revision 1.
	for _, req := range []string{`{"type":1,"code":5,"id":1}`, `{"type":1,"code":5,"id":1,"body":{"scope":"device"}}`} {
		body := expectKind(t, dialRaw(t, b.addr).roundTrip(req), wire.TypeNode, wire.CodeNodes, 1.0)
		if !reflect.DeepEqual(body["nodes"], []any{"car"}) {
			t.Errorf("%s: nodes %v, want [car]", req, body["nodes"])
		}
	}
	expectError(t, dialRaw(t, b.addr).roundTrip(`{"type":1,"code":5,"id":2,"body":{"scope":"galaxy"}}`), wire.ErrCodeBadRequest, 2.0)
	expectError(t, dialRaw(t, b.addr).roundTrip(`{"type":1,"code":5,"id":3,"body":{"scope":7}}`), wire.ErrCodeBadRequest, 3.0)

	n, err := cb.Connect(t.Context(), "oven@kitchen")
	want := wire.Node{Name: "oven", ID: "id-oven", Address: "127.0.0.2", Port: 4001, Device: "kitchen"}
	if err != nil || n != want {
		t.Fatalf("CONNECT oven@kitchen = %+v, %v; want %+v", n, err, want)
	}
	// Not discoverable: not listed, yet found by name.
	if n, err := cb.ConnectDevice(t.Context(), "secret.v1", "kitchen"); err != nil || n.Port != 4002 || n.Device != "kitchen" {
		t.Fatalf("CONNECT secret.v1@kitchen = %+v, %v", n, err)
	}
	// A bare name, and name@own device, are this device.
	if n, err := cb.Connect(t.Context(), "car"); err != nil || n.Device != "" || n.Port != 5001 {
		t.Fatalf("CONNECT car = %+v, %v", n, err)
	}
	if n, err := cb.Connect(t.Context(), "car@garage"); err != nil || n.Device != "garage" || n.Port != 5001 || n.Address != "127.0.0.1" {
		t.Fatalf("CONNECT car@garage = %+v, %v", n, err)
	}
	if _, err := cb.Connect(t.Context(), "oven"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("CONNECT oven on garage = %v, want not found (a bare name is this device)", err)
	}
	if _, err := cb.Connect(t.Context(), "nobody@kitchen"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("CONNECT nobody@kitchen = %v, want not found", err)
	}

	// The node's connection closes: it leaves garage's lists within 1 s.
	start := time.Now()
	ca.Close()
	waitFleetNames(t, cb, []string{"car"})
	if d := time.Since(start); d > time.Second {
		t.Errorf("a closed node left the other device after %s, want under 1 s", d)
	}
	if _, err := cb.Connect(t.Context(), "oven@kitchen"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("CONNECT of a gone node = %v, want not found", err)
	}
	// Its name registers again on kitchen and comes back.
	if _, err := dialClient(t, a.addr).Register(t.Context(), "oven", "id-oven-2", 4003, true); err != nil {
		t.Fatal(err)
	}
	waitFleetNames(t, cb, []string{"car", "oven@kitchen"})
	if n, err := cb.Connect(t.Context(), "oven@kitchen"); err != nil || n.ID != "id-oven-2" {
		t.Fatalf("CONNECT oven@kitchen after re-registering = %+v, %v", n, err)
	}
}

// TestFleetUnreachable: a fleet whose NATS server is gone keeps local GMP
// answering, and CONNECT of a remote name says the fleet is unreachable.
func TestFleetUnreachable(t *testing.T) {
	ns := fleettest.RunServer(t)
	a := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	ca := dialClient(t, a.addr)
	if _, err := ca.Register(t.Context(), "oven", "id-oven", 4001, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "connected", func() bool { return a.fleet.Status().Connected })
	ns.Stop()
	waitFor(t, "disconnected", func() bool { return !a.fleet.Status().Connected })
	_, err := ca.Connect(t.Context(), "car@garage")
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "the fleet is unreachable") {
		t.Fatalf("CONNECT while NATS is away = %v, want not found saying the fleet is unreachable", err)
	}
	if names, err := ca.DiscoverFleet(t.Context()); err != nil || !slices.Equal(names, []string{"oven"}) {
		t.Fatalf("DISCOVER fleet while NATS is away = %q, %v", names, err)
	}
	if n, err := ca.Connect(t.Context(), "oven"); err != nil || n.Port != 4001 {
		t.Fatalf("local CONNECT while NATS is away = %+v, %v", n, err)
	}
}

// TestNoFleet: without a fleet WELCOME does not offer fleet, DISCOVER with
// fleet scope lists this device, and CONNECT of name@device finds nothing.
func TestNoFleet(t *testing.T) {
	s := startServer(t, Config{})
	c := dialClient(t, s.addr)
	w, err := c.Hello(t.Context(), "test/1")
	if err != nil || w.Has(wire.FeatureFleet) {
		t.Fatalf("WELCOME %+v (%v): want no feature fleet", w, err)
	}
	if _, err := c.Register(t.Context(), "n1", "i", 1, true); err != nil {
		t.Fatal(err)
	}
	if names, err := c.DiscoverFleet(t.Context()); err != nil || !slices.Equal(names, []string{"n1"}) {
		t.Fatalf("DISCOVER fleet without a fleet = %q, %v", names, err)
	}
	if _, err := c.Connect(t.Context(), "n1@somewhere"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("CONNECT n1@somewhere = %v, want not found", err)
	}
}

// TestFleetNodesCache: the fleet-scope NODES body is reused while neither
// list moves and rebuilt when either does.
func TestFleetNodesCache(t *testing.T) {
	ns := fleettest.RunServer(t)
	a := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	b := startFleetDevice(t, ns.URL(), "garage", "127.0.0.3")
	cb := dialClient(t, b.addr)
	if _, err := dialClient(t, a.addr).Register(t.Context(), "oven", "i", 1, true); err != nil {
		t.Fatal(err)
	}
	waitFleetNames(t, cb, []string{"oven@kitchen"})
	first := b.fleetNodesBody()
	if again := b.fleetNodesBody(); &again[0] != &first[0] {
		t.Error("the fleet NODES body was rebuilt with nothing changed")
	}
	if _, err := cb.Register(t.Context(), "car", "i", 1, true); err != nil {
		t.Fatal(err)
	}
	waitFleetNames(t, cb, []string{"car", "oven@kitchen"})
	if _, err := dialClient(t, a.addr).Register(t.Context(), "fridge", "i", 1, true); err != nil {
		t.Fatal(err)
	}
	waitFleetNames(t, cb, []string{"car", "fridge@kitchen", "oven@kitchen"})
}
