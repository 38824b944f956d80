package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/client"
)

// TestFleetNATSRestart: nats-server is killed and restarted while every
// device's GVMs keep using GMP. Local GMP never stops (a bounded loop of
// requests on each device sees no failure), CONNECT of an unknown remote
// name says the fleet is unreachable, and after the restart the fleet
// converges within the expiry.
func TestFleetNATSRestart(t *testing.T) {
	tf := startTestFleet(t)
	names := map[string][]string{}
	clients := map[string]*client.Client{}
	for i, d := range tf.devs {
		d.register(t, "svc", 7000+i)
		names[d.name] = []string{"svc"}
		clients[d.name] = d.dial(t)
	}
	for _, d := range tf.devs {
		waitFleetNames(t, clients[d.name], d.name+" sees every device", 10*time.Second, equalTo(fleetView(d.name, names)))
	}

	// The local loop: on each device, DISCOVER, CONNECT of the local node
	// and a REGISTER/UNREGISTER of a fresh node, every 10 ms, until told to
	// stop (and never longer than a minute).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var firstErr atomic.Value
	for _, d := range tf.devs {
		c := d.dial(t)
		wg.Go(func() {
			deadline := time.Now().Add(time.Minute)
			for i := 0; time.Now().Before(deadline); i++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := localRound(ctx, c, fmt.Sprintf("loop-%d", i))
				cancel()
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("%s: %w", d.name, err))
				}
			}
		})
	}

	tf.nats.Kill()
	for _, d := range tf.devs {
		c := clients[d.name]
		deadline := time.Now().Add(5 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := c.Connect(ctx, "nobody@elsewhere")
			cancel()
			if errors.Is(err, errdefs.ErrNotFound) && strings.Contains(err.Error(), "the fleet is unreachable") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: CONNECT nobody@elsewhere with NATS down = %v, want not found saying the fleet is unreachable", d.name, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Down for longer than the expiry: every device clears what it knew
	// of the others, and the server's entries are stale when it returns.
	time.Sleep(fleetExpiry + time.Second)
	for _, d := range tf.devs {
		waitFleetNames(t, clients[d.name], d.name+" lists itself only while the fleet is away", 2*time.Second, equalTo([]string{"svc"}))
	}
	// A node that registers while NATS is away is published once it is back.
	tf.devs[0].register(t, "late", 7500)
	names["dev-1"] = []string{"late", "svc"}

	tf.nats.Restart()
	restarted := time.Now()
	for _, d := range tf.devs {
		waitFleetNames(t, clients[d.name], d.name+" converges after the restart", fleetExpiry, equalTo(fleetView(d.name, names)))
	}
	t.Logf("the fleet converged %s after nats-server restarted (expiry %s)", time.Since(restarted), fleetExpiry)

	close(stop)
	wg.Wait()
	t.Logf("%d rounds of local GMP requests while NATS was killed and restarted, %d failed", requests.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Fatalf("local GMP failed while NATS was away: %v", firstErr.Load())
	}
	if requests.Load() < 100 {
		t.Fatalf("only %d rounds of local requests ran", requests.Load())
	}
}

// localRound is one round of a GVM's local traffic: DISCOVER, CONNECT of
// the device's own node, REGISTER and UNREGISTER.
func localRound(ctx context.Context, c *client.Client, name string) error {
	got, err := c.Discover(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(got, "svc") {
		return fmt.Errorf("DISCOVER lists %q without svc", got)
	}
	if _, err := c.Connect(ctx, "svc"); err != nil {
		return err
	}
	if _, err := c.Register(ctx, name, "id", 1, false); err != nil {
		return err
	}
	return c.Unregister(ctx)
}

// TestFleetDaemonKilled: a daemon killed with SIGKILL cannot say goodbye;
// its nodes leave the other devices when their entries expire, within the
// expiry of the kill.
func TestFleetDaemonKilled(t *testing.T) {
	tf := startTestFleet(t)
	names := map[string][]string{}
	clients := map[string]*client.Client{}
	for i, d := range tf.devs {
		d.register(t, "svc", 7000+i)
		d.register(t, "svc2", 7100+i)
		names[d.name] = []string{"svc", "svc2"}
		clients[d.name] = d.dial(t)
	}
	for _, d := range tf.devs {
		waitFleetNames(t, clients[d.name], d.name+" sees every device", 10*time.Second, equalTo(fleetView(d.name, names)))
	}
	victim := tf.devs[2]
	victim.kill(t)
	killed := time.Now()
	delete(names, victim.name)
	// GMP.md: a remote node leaves every other device within the expiry
	// after its connection closed, and the kill closed them all. The
	// bucket's max age is a margin under the expiry, so the NATS server's
	// late expiry timer and the delivery to the watchers fit inside it.
	limit := fleetExpiry
	for _, d := range tf.devs[:2] {
		// Counted from the kill for every device, not from this wait.
		waitFleetNames(t, clients[d.name], victim.name+"'s nodes gone from "+d.name, limit-time.Since(killed), equalTo(fleetView(d.name, names)))
		t.Logf("%s dropped the killed %s's nodes %s after the kill (expiry %s)", d.name, victim.name, time.Since(killed), fleetExpiry)
		if _, err := clients[d.name].Connect(t.Context(), "svc@"+victim.name); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: CONNECT svc@%s after its daemon died = %v", d.name, victim.name, err)
		}
	}
	var st struct {
		Fleet struct{ Devices []string } `json:"fleet"`
	}
	tf.devs[0].e.jsonOf(&st, "status", "-o", "json")
	if !slices.Equal(st.Fleet.Devices, []string{"dev-2"}) {
		t.Errorf("status lists devices %q after dev-3 died, want [dev-2]", st.Fleet.Devices)
	}
}
