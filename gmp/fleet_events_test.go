package gmp

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// names reads a JSON array of strings.
func names(t testing.TB, v any) []string {
	t.Helper()
	out := []string{}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("%v is not an array", v)
	}
	for _, s := range arr {
		out = append(out, s.(string))
	}
	return out
}

// TestSubscribeFleetScope: SUBSCRIBE with fleet scope (GMP.md) lists the
// fleet in SUBSCRIBED as a fleet DISCOVER does, then delivers the other
// devices' node events named name@device and carrying device, address and
// port as CONNECT would give them; a device-scope subscriber on the same
// server never sees them; hidden nodes cause no event; UNSUBSCRIBE of
// nodes ends the fleet scope with it.
func TestSubscribeFleetScope(t *testing.T) {
	ns := fleettest.RunServer(t)
	kitchen := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	garage := startFleetDevice(t, ns.URL(), "garage", "127.0.0.3")
	reg := func(d *fleetDevice, name string, port int, discoverable bool) *rawConn {
		c := dialRaw(t, d.addr)
		expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":1,"code":1,"id":1,"body":{"name":%q,"id":"id-%s","port":%d,"discoverable":%v}}`,
			name, name, port, discoverable)), 1, 3, 1.0)
		return c
	}
	reg(kitchen, "fridge", 4001, true)
	reg(kitchen, "secret", 4002, false)
	reg(garage, "car", 5001, true)
	waitFleetNames(t, dialClient(t, garage.addr), []string{"car", "fridge@kitchen"})

	fsub := dialRaw(t, garage.addr)
	b := expectKind(t, fsub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"],"scope":"fleet"}}`), 3, 2, 1.0)
	if got := names(t, b["nodes"]); !slices.Equal(got, []string{"car", "fridge@kitchen"}) {
		t.Fatalf("SUBSCRIBED fleet nodes = %q", got)
	}
	if got := names(t, b["topics"]); !slices.Equal(got, []string{"nodes"}) {
		t.Fatalf("SUBSCRIBED topics = %q", got)
	}
	dsub := dialRaw(t, garage.addr)
	b = expectKind(t, dsub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"]}}`), 3, 2, 1.0)
	if got := names(t, b["nodes"]); !slices.Equal(got, []string{"car"}) {
		t.Fatalf("SUBSCRIBED device nodes = %q", got)
	}

	oven := reg(kitchen, "oven", 4100, true)
	e := expectEvent(t, fsub.recv())
	want := map[string]any{"seq": e["seq"], "topic": "nodes", "event": "registered", "name": "oven@kitchen",
		"device": "kitchen", "id": "id-oven", "address": "127.0.0.2", "port": 4100.0}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Fatalf("remote registered = %v, want %v", e, want)
	}
	reg(kitchen, "ghost", 4101, false) // hidden: no event
	oven.c.Close()
	e = expectEvent(t, fsub.recv())
	want = map[string]any{"seq": e["seq"], "topic": "nodes", "event": "unregistered", "name": "oven@kitchen",
		"device": "kitchen", "id": "id-oven"}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Fatalf("remote unregistered = %v, want %v", e, want)
	}
	// A local registration: the next event of both subscribers. The
	// device-scope one saw nothing of oven, neither saw ghost.
	reg(garage, "bike", 5002, true)
	for who, c := range map[string]*rawConn{"fleet": fsub, "device": dsub} {
		e := expectEvent(t, c.recv())
		if e["name"] != "bike" || e["event"] != "registered" || e["device"] != nil {
			t.Fatalf("%s subscriber's next event = %v, want bike registered (no device)", who, e)
		}
	}

	// UNSUBSCRIBE nodes ends the fleet scope; SUBSCRIBE of nodes again,
	// with no scope, is the device's.
	expectKind(t, fsub.roundTrip(`{"type":3,"code":4,"id":2,"body":{"topics":["nodes"]}}`), 3, 5, 2.0)
	b = expectKind(t, fsub.roundTrip(`{"type":3,"code":1,"id":3,"body":{"topics":["nodes"]}}`), 3, 2, 3.0)
	if got := names(t, b["nodes"]); !slices.Equal(got, []string{"bike", "car"}) {
		t.Fatalf("SUBSCRIBED after the fleet scope ended = %q", got)
	}
	reg(kitchen, "lamp", 4200, true)
	waitFleetNames(t, dialClient(t, garage.addr), []string{"bike", "car", "fridge@kitchen", "lamp@kitchen"})
	reg(garage, "desk", 5003, true)
	if e := expectEvent(t, fsub.recv()); e["name"] != "desk" {
		t.Fatalf("after the fleet scope ended, the next event is %v, want desk's", e)
	}

	// The Go client: SubscribeFleet, events with Device.
	c := dialClient(t, garage.addr)
	sub, err := c.SubscribeFleet(t.Context(), events.TopicNodes)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"bike", "car", "desk", "fridge@kitchen", "lamp@kitchen"}; !slices.Equal(sub.Subscribed.Nodes, want) {
		t.Fatalf("client SUBSCRIBED nodes = %q, want %q", sub.Subscribed.Nodes, want)
	}
	reg(kitchen, "kettle", 4300, true)
	ev, err := sub.Next(t.Context())
	if err != nil || ev.Name != "kettle@kitchen" || ev.Device != "kitchen" || ev.Address != "127.0.0.2" || ev.Port != 4300 {
		t.Fatalf("client event %+v, %v", ev, err)
	}
}

// TestSubscribeFleetScopeRefused: scope fleet on a GPMD in no fleet is a
// feature it does not offer (unknown_message); an unknown scope, or one
// that is not a string, is bad_request, in a fleet or not; scope device is
// revision 1's SUBSCRIBE.
func TestSubscribeFleetScopeRefused(t *testing.T) {
	ts, _ := evServer(t, 0)
	c := dialRaw(t, ts.addr)
	expectError(t, c.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"],"scope":"fleet"}}`), wire.ErrCodeUnknownMessage, 1.0)
	expectError(t, c.roundTrip(`{"type":3,"code":1,"id":2,"body":{"topics":["nodes"],"scope":"galaxy"}}`), wire.ErrCodeBadRequest, 2.0)
	expectError(t, c.roundTrip(`{"type":3,"code":1,"id":3,"body":{"topics":["nodes"],"scope":5}}`), wire.ErrCodeBadRequest, 3.0)
	b := expectKind(t, c.roundTrip(`{"type":3,"code":1,"id":4,"body":{"topics":["nodes"],"scope":"device"}}`), 3, 2, 4.0)
	if got := names(t, b["nodes"]); len(got) != 0 {
		t.Fatalf("SUBSCRIBED nodes = %q", got)
	}
	if _, _, _, err := ts.Subscribe(events.Nodes | events.FleetNodes); err != ErrNoFleet {
		t.Fatalf("Server.Subscribe with the fleet scope in no fleet: %v, want ErrNoFleet", err)
	}

	ns := fleettest.RunServer(t)
	d := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	c = dialRaw(t, d.addr)
	expectError(t, c.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"],"scope":"galaxy"}}`), wire.ErrCodeBadRequest, 1.0)
}

// TestSubscribeFleetRacingRemoteChanges: while another device's nodes come
// and go, SUBSCRIBE with fleet scope: each remote node is in SUBSCRIBED's
// nodes or arrives as an event after it, never both, never neither (the
// fleet scope's version of TestSubscribeRacingRegistrations).
func TestSubscribeFleetRacingRemoteChanges(t *testing.T) {
	rounds := 15
	if testing.Short() {
		rounds = 3
	}
	ns := fleettest.RunServer(t)
	kitchen := startFleetDevice(t, ns.URL(), "kitchen", "127.0.0.2")
	garage := startFleetDevice(t, ns.URL(), "garage", "127.0.0.3")
	gc := dialClient(t, garage.addr)
	for round := range rounds {
		const nodes = 20
		conns, start, wait := churn(t, kitchen.addr, round, nodes)
		sub := dialRaw(t, garage.addr)
		close(start)
		// Subscribe while the changes travel through NATS to garage.
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		b := expectKind(t, sub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"],"scope":"fleet"}}`), 3, 2, 1.0)
		wait()
		var want []string
		for i := 0; i < nodes; i += 2 {
			want = append(want, fmt.Sprintf("r%d-%d@kitchen", round, i))
		}
		slices.Sort(want)
		waitFleetNames(t, gc, want)
		view := map[string]bool{}
		for _, n := range names(t, b["nodes"]) {
			view[n] = true
		}
		wantSet := map[string]bool{}
		for _, n := range want {
			wantSet[n] = true
		}
		for fmt.Sprint(view) != fmt.Sprint(wantSet) {
			// Every change has reached garage (its DISCOVER says so), so
			// a missing event never comes: wait a little, not forever.
			sub.c.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, err := sub.br.ReadBytes('\n')
			if err != nil {
				t.Fatalf("round %d: view %v, want %v: an event is missing (%v)", round, view, wantSet, err)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			applyNodeEvent(t, round, view, b["seq"].(float64), expectEvent(t, m))
		}
		for _, c := range conns {
			c.c.Close()
		}
		sub.c.Close()
		waitFleetNames(t, gc, nil)
	}
}
