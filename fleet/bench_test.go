package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

const benchNodes = 1000

// deviceList stands in for the GMP registry's DISCOVER with device scope:
// a mutex and a cached sorted list of the local names.
type deviceList struct {
	mu     sync.Mutex
	sorted []string
}

func (d *deviceList) names() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sorted
}

func localNames() *deviceList {
	d := &deviceList{}
	for i := range benchNodes {
		d.sorted = append(d.sorted, fmt.Sprintf("node-%04d", i))
	}
	slices.Sort(d.sorted)
	return d
}

// remoteView is the local copy of two other devices with 1,000 nodes each.
func remoteView() *view {
	v := newView(nil)
	now := time.Now()
	for _, dev := range []string{"dev-b", "dev-c"} {
		v.apply(0, update{op: opPutDevice, device: dev, dev: deviceEntry{Device: dev, Address: "127.0.0.3"}})
		for i := range benchNodes {
			name := fmt.Sprintf("node-%04d", i)
			u := update{op: opPutNode, device: dev, name: name, node: fleetinfo.RemoteNode{
				Name: name, ID: "id", Device: dev, Address: "127.0.0.3", Port: 10000 + i, Discoverable: true}}
			v.change(0, func(st state) []Event { return u.applyTo(st, now) })
		}
	}
	return v
}

func benchDevice(b *testing.B) {
	d := localNames()
	b.ResetTimer()
	for b.Loop() {
		if _, err := json.Marshal(d.names()); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFleet(b *testing.B) {
	d, v := localNames(), remoteView()
	if n := len(v.discoverNames()); n != 2*benchNodes {
		b.Fatalf("%d remote names", n)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := json.Marshal(MergeNames(d.names(), v.discoverNames())); err != nil {
			b.Fatal(err)
		}
	}
}

// fleetCache is how a GMP server would keep the encoded fleet-scope reply:
// keyed by the local list (its registry rebuilds the slice on change) and
// the fleet's version.
type fleetCache struct {
	mu      sync.Mutex
	local   []string
	version uint64
	body    []byte
}

func (c *fleetCache) get(local []string, v *view) ([]byte, error) {
	remote, ver := v.namesVersion()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body != nil && ver == c.version && len(local) == len(c.local) && (len(local) == 0 || &local[0] == &c.local[0]) {
		return c.body, nil
	}
	body, err := json.Marshal(MergeNames(local, remote))
	if err != nil {
		return nil, err
	}
	c.local, c.version, c.body = local, ver, body
	return body, nil
}

func benchFleetCached(b *testing.B) {
	d, v := localNames(), remoteView()
	var c fleetCache
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.get(d.names(), v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiscover compares a DISCOVER's list with device scope (1,000
// local names) and fleet scope (3 devices × 1,000), both from memory and
// JSON-encoded as in a NODES reply.
func BenchmarkDiscover(b *testing.B) {
	b.Run("device", benchDevice)
	b.Run("fleet", benchFleet)
	b.Run("fleet-cached", benchFleetCached)
	b.Run("device-list-only", func(b *testing.B) {
		d := localNames()
		for b.Loop() {
			_ = d.names()
		}
	})
	b.Run("fleet-list-only", func(b *testing.B) {
		v := remoteView()
		for b.Loop() {
			_ = v.discoverNames()
		}
	})
}

func TestDiscoverRatio(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark")
	}
	dev := testing.Benchmark(benchDevice)
	fl := testing.Benchmark(benchFleet)
	cached := testing.Benchmark(benchFleetCached)
	t.Logf("DISCOVER device scope %d ns/op; fleet scope (3×%d) %d ns/op encoded per request (throughput ratio %.2f), %d ns/op with the reply cached by NamesVersion (ratio %.1f)",
		dev.NsPerOp(), benchNodes, fl.NsPerOp(), float64(dev.NsPerOp())/float64(fl.NsPerOp()),
		cached.NsPerOp(), float64(dev.NsPerOp())/float64(max(cached.NsPerOp(), 1)))
	// The cache must see changes: a new remote node changes the version.
	v := remoteView()
	_, v1 := v.namesVersion()
	v.apply(0, update{op: opPutNode, device: "dev-b", name: "new", node: fleetinfo.RemoteNode{Name: "new", ID: "i", Device: "dev-b", Address: "127.0.0.3", Port: 1, Discoverable: true}})
	names, v2 := v.namesVersion()
	if v2 == v1 || !slices.Contains(names, "new@dev-b") {
		t.Fatalf("version %d -> %d after a change; names hold new@dev-b: %v", v1, v2, slices.Contains(names, "new@dev-b"))
	}
}

// visibility registers n nodes on one device, one after another, and
// returns how long each took to reach another device's local copy.
func visibility(t testing.TB, n int) []time.Duration {
	srv := fleettest.RunServer(t)
	var mu sync.Mutex
	seen := map[string]time.Time{}
	a := join(t.(*testing.T), srv.URL(), "dev-a")
	b := join(t.(*testing.T), srv.URL(), "dev-b", func(c *Config) {
		c.OnEvent = func(e Event) {
			if e.Kind == NodeRegistered {
				mu.Lock()
				seen[e.Node.Name] = time.Now()
				mu.Unlock()
			}
		}
	})
	waitConnected(t.(*testing.T), a, b)
	lat := make([]time.Duration, 0, n)
	for i := range n {
		name := fmt.Sprintf("lat-%04d", i)
		start := time.Now()
		register(t.(*testing.T), a, name, 20000+i)
		testutil.WaitFor(t, 5*time.Second, name+" visible", func() bool {
			mu.Lock()
			defer mu.Unlock()
			_, ok := seen[name]
			return ok
		})
		mu.Lock()
		lat = append(lat, seen[name].Sub(start))
		mu.Unlock()
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

func TestRegistrationVisibleP99(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 registrations")
	}
	lat := visibility(t, 1000)
	p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
	t.Logf("registration visible on another device: p50 %s, p99 %s, max %s (1,000 registrations)", p50, p99, lat[len(lat)-1])
	if !raceEnabled && p99 > 100*time.Millisecond {
		t.Fatalf("p99 %s, want under 100 ms on loopback", p99)
	}
}
