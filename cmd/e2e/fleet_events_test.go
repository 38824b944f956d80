package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestFleetEvents: the fleet scope of events through three real daemons
// and a nats-server process. On dev-1: a GMP subscriber with fleet scope
// and one with device scope, `gpmd events --fleet -o json`, `gpmd events
// -o json` and `gpmd nodes --watch --fleet -o json`. A node registering
// and leaving on dev-2, and dev-3 killed with SIGKILL, reach the fleet
// scope (named name@device, with device) and redraw the watch; the device
// scope sees none of it. Every follower ends on Ctrl-C with status 0.
func TestFleetEvents(t *testing.T) {
	tf := startTestFleet(t)
	d1, d2, d3 := tf.devs[0], tf.devs[1], tf.devs[2]
	d3.register(t, "doomed", 7300)
	c1 := d1.dial(t)
	waitFleetNames(t, c1, "dev-1 sees doomed@dev-3", 10*time.Second, equalTo([]string{"doomed@dev-3"}))

	ctx := t.Context()
	fsub, err := d1.dial(t).SubscribeFleet(ctx, events.TopicNodes)
	if err != nil || !slices.Equal(fsub.Subscribed.Nodes, []string{"doomed@dev-3"}) {
		t.Fatalf("SUBSCRIBE fleet on dev-1: %+v, %v", fsub, err)
	}
	dsub, err := d1.dial(t).Subscribe(ctx, events.TopicNodes)
	if err != nil || len(dsub.Subscribed.Nodes) != 0 {
		t.Fatalf("SUBSCRIBE on dev-1: %+v, %v", dsub, err)
	}

	fleetEvents := d1.e.follow(t, "events", "--topics", "nodes", "--fleet", "-o", "json")
	devEvents := d1.e.follow(t, "events", "--topics", "nodes", "-o", "json")
	watch := d1.e.follow(t, "nodes", "--watch", "--fleet", "-o", "json")
	readEvent := func(f *follower, what string) events.Event {
		t.Helper()
		l := f.line(what)
		var e events.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s printed %q: %v", what, l, err)
		}
		return e
	}
	watchRows := func() []string {
		t.Helper()
		l := watch.line("nodes --watch --fleet")
		var list struct {
			Nodes []struct{ Name, Device string }
		}
		if err := json.Unmarshal([]byte(l), &list); err != nil || list.Nodes == nil {
			t.Fatalf("nodes --watch --fleet -o json printed %q: %v", l, err)
		}
		out := []string{}
		for _, r := range list.Nodes {
			out = append(out, r.Name+"@"+r.Device)
		}
		return out
	}
	if got := watchRows(); !slices.Equal(got, []string{"doomed@dev-3"}) {
		t.Fatalf("nodes --watch --fleet first listed %q", got)
	}
	// With -o json the followers print nothing until an event: wait until
	// the daemon counts their subscriptions (the two GMP ones and three).
	testutil.WaitFor(t, 10*time.Second, "the followers to subscribe", func() bool {
		return value(scrape(t, d1.state.ControlAddr, ""), "gpmd_event_subscribers") == 5
	})
	if s := fleetEvents.stderr.String(); s != "" {
		t.Fatalf("events --fleet -o json wrote to stderr: %s", s)
	}

	// A node registers on dev-2, then leaves.
	svc := d2.register(t, "svc", 7200)
	for _, want := range []string{events.Registered, events.Unregistered} {
		if want == events.Unregistered {
			svc.Close()
		}
		e, err := fsub.Next(ctx)
		if err != nil || e.Event != want || e.Name != "svc@dev-2" || e.Device != "dev-2" {
			t.Fatalf("GMP fleet subscriber: %+v, %v; want %s svc@dev-2", e, err, want)
		}
		if want == events.Registered && (e.Address != d2.ip || e.Port != 7200) {
			t.Fatalf("GMP fleet event %+v: want address %s port 7200", e, d2.ip)
		}
		if e := readEvent(fleetEvents, "events --fleet"); e.Event != want || e.Name != "svc@dev-2" || e.Device != "dev-2" {
			t.Fatalf("events --fleet: %+v; want %s svc@dev-2", e, want)
		}
		wantRows := []string{"doomed@dev-3"}
		if want == events.Registered {
			wantRows = []string{"doomed@dev-3", "svc@dev-2"}
		}
		if got := watchRows(); !slices.Equal(got, wantRows) {
			t.Fatalf("nodes --watch --fleet after svc %s listed %q, want %q", want, got, wantRows)
		}
	}

	// dev-3 dies: its node leaves within the expiry, as an event too.
	d3.kill(t)
	killed := time.Now()
	e, err := fsub.Next(ctx)
	if err != nil || e.Event != events.Unregistered || e.Name != "doomed@dev-3" || e.Device != "dev-3" {
		t.Fatalf("after dev-3 died: %+v, %v", e, err)
	}
	if took := time.Since(killed); took > fleetExpiry {
		t.Fatalf("the killed device's node left the fleet scope after %s, beyond the expiry %s", took, fleetExpiry)
	} else {
		t.Logf("the killed device's node left the fleet scope %s after the kill (expiry %s)", took, fleetExpiry)
	}
	if e := readEvent(fleetEvents, "events --fleet"); e.Event != events.Unregistered || e.Name != "doomed@dev-3" {
		t.Fatalf("events --fleet after dev-3 died: %+v", e)
	}
	if got := watchRows(); len(got) != 0 {
		t.Fatalf("nodes --watch --fleet after dev-3 died listed %q", got)
	}

	// The device scope saw none of it: its first event is dev-1's own.
	d1.register(t, "local", 7100)
	if e, err := dsub.Next(ctx); err != nil || e.Name != "local" || e.Device != "" {
		t.Fatalf("GMP device subscriber's first event: %+v, %v; want local", e, err)
	}
	if e := readEvent(devEvents, "events"); e.Name != "local" || e.Device != "" {
		t.Fatalf("events (device scope) first printed %+v; want local", e)
	}
	if e, err := fsub.Next(ctx); err != nil || e.Name != "local" || e.Device != "" {
		t.Fatalf("GMP fleet subscriber: %+v, %v; want local", e, err)
	}

	for _, f := range []*follower{fleetEvents, devEvents, watch} {
		f.interrupt()
	}
}

// TestFleetEventsRefusedInNoFleet: `gpmd events --fleet` on a daemon in
// no fleet is refused in one line (exit 2), and `gpmd nodes --watch
// --fleet` follows the device alone, as `gpmd nodes --fleet` lists it.
func TestFleetEventsRefusedInNoFleet(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	r := e.run(nil, "events", "--fleet")
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code != 2 || line == "" || strings.Contains(line, "\n") || !strings.Contains(line, "no fleet") {
		t.Fatalf("events --fleet in no fleet: %v", r)
	}

	watch := e.follow(t, "nodes", "--watch", "--fleet", "-o", "json")
	next := func() string { return watch.line("nodes --watch --fleet") }
	if l := next(); l != `{"nodes":[],"connections":0}` {
		t.Fatalf("nodes --watch --fleet first printed %q", l)
	}
	gc, err := client.Dial(t.Context(), st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if _, err := gc.Register(t.Context(), "solo", "s1", 7000, true); err != nil {
		t.Fatal(err)
	}
	if l := next(); !strings.Contains(l, `"name":"solo","device":"-"`) {
		t.Fatalf("nodes --watch --fleet after a registration printed %q", l)
	}
}
