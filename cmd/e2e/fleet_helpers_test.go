package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/gmp/client"
)

// fleetExpiry is the short expiry the fleet tests give --fleet-expiry (the
// least the fleet takes), so that expiry is tested in seconds.
const fleetExpiry = 3 * time.Second

// fleetIPs are the devices' addresses: one loopback address each, the same
// ports on every one (as on real devices).
var fleetIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

// fleetDevice is one gpmd daemon of a test fleet.
type fleetDevice struct {
	e      *env
	name   string // the device name, dev-1 …
	ip     string // its address, also advertised
	gmp    string // ip:port of its GMP
	state  conf.State
	killed bool
}

// testFleet is a real nats-server process and three gpmd daemons joined to
// it.
type testFleet struct {
	t    *testing.T
	nats *fleettest.Process
	devs []*fleetDevice
}

// startTestFleet starts nats-server (built by scripts/build-nats-server.sh)
// and three daemons on 127.0.0.2-4 with the same control and GMP ports,
// each joined to the fleet as dev-1, dev-2, dev-3.
func startTestFleet(t *testing.T) *testFleet {
	t.Helper()
	nats := fleettest.StartProcess(t, fleettest.NATSServerBin(t))
	ctrlPort, gmpPort := commonPort(t), commonPort(t)
	tf := &testFleet{t: t, nats: nats}
	for i, ip := range fleetIPs {
		d := &fleetDevice{e: newEnv(t), name: fmt.Sprintf("dev-%d", i+1), ip: ip,
			gmp: net.JoinHostPort(ip, fmt.Sprint(gmpPort))}
		r := d.e.run(nil, "start",
			"--control-addr", net.JoinHostPort(ip, fmt.Sprint(ctrlPort)), "--gmp-addr", d.gmp,
			"--fleet", nats.URL(), "--device", d.name, "--advertise", ip,
			"--fleet-expiry", fleetExpiry.String())
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		st, err := conf.ReadState(d.e.dir)
		if err != nil {
			t.Fatal(err)
		}
		d.state = st
		tf.devs = append(tf.devs, d)
	}
	return tf
}

// commonPort is a port free on every address of fleetIPs right now.
func commonPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", fleetIPs[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		held := []net.Listener{l}
		ok := true
		for _, ip := range fleetIPs[1:] {
			l2, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l2)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on every fleet address after 50 tries")
	return 0
}

// dial opens a GMP client to the device, closed at cleanup.
func (d *fleetDevice) dial(t testing.TB) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.gmp, client.ClientOptions{})
	if err != nil {
		t.Fatalf("%s: %v", d.name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// register registers a node on its own connection; the node lives until
// the returned client is closed.
func (d *fleetDevice) register(t testing.TB, name string, port int) *client.Client {
	t.Helper()
	c := d.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Register(ctx, name, "id-"+name+"-"+d.name, port, true); err != nil {
		t.Fatalf("%s: register %s: %v", d.name, name, err)
	}
	return c
}

// kill sends SIGKILL to the daemon.
func (d *fleetDevice) kill(t testing.TB) {
	t.Helper()
	if err := syscall.Kill(d.state.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.killed = true
}

// log is the daemon's log file.
func (d *fleetDevice) log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(d.state.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitFleetNames polls DISCOVER with fleet scope on c every few
// milliseconds until cond holds of the list, for up to within; it returns
// how long that took.
func waitFleetNames(t testing.TB, c *client.Client, what string, within time.Duration, cond func([]string) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var got []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		names, err := c.DiscoverFleet(ctx)
		cancel()
		if err != nil {
			t.Fatalf("DISCOVER fleet (%s): %v", what, err)
		}
		got = names
		if cond(got) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s: not within %s; DISCOVER fleet lists %d names: %s", what, within, len(got), clipNames(got))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// equalTo is a condition of waitFleetNames: the list is want.
func equalTo(want []string) func([]string) bool {
	return func(got []string) bool { return slices.Equal(got, want) }
}

// fleetView is what device self lists with fleet scope when each device d
// has the nodes names[d]: its own bare, the others' as name@device, sorted.
func fleetView(self string, names map[string][]string) []string {
	var out []string
	for dev, ns := range names {
		for _, n := range ns {
			if dev == self {
				out = append(out, n)
			} else {
				out = append(out, n+"@"+dev)
			}
		}
	}
	slices.Sort(out)
	return out
}

func clipNames(s []string) string {
	if len(s) > 12 {
		return strings.Join(s[:12], " ") + fmt.Sprintf(" … (%d more)", len(s)-12)
	}
	return strings.Join(s, " ")
}

// registerMany registers n nodes named prefix-0000 … on d, 32 at a time,
// and returns their clients.
func (d *fleetDevice) registerMany(t testing.TB, prefix string, n int) []*client.Client {
	t.Helper()
	clients := make([]*client.Client, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, d.gmp, client.ClientOptions{})
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
			if _, err := c.Register(ctx, fmt.Sprintf("%s-%04d", prefix, i), "id", 20000+i, true); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	})
	close(errs)
	for err := range errs {
		t.Fatalf("%s: registering %d nodes: %v", d.name, n, err)
	}
	return clients
}
