package fleet

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/fleet/fleettest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// bucket connects to url and opens (creating when needed) the default
// bucket, for tests that write into it directly.
func bucket(t *testing.T, url string) (*nats.Conn, jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), BucketConfig(DefaultBucket, testExpiry))
	if err != nil {
		t.Fatal(err)
	}
	return nc, js, kv
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUntrustedEntriesIgnored(t *testing.T) {
	srv := fleettest.RunServer(t)
	_, _, kv := bucket(t, srv.URL())
	a := join(t, srv.URL(), "dev-a")
	waitConnected(t, a)

	good := func(name, device string) fleetinfo.RemoteNode {
		return fleetinfo.RemoteNode{Name: name, ID: "id", Device: device, Address: "127.0.0.9", Port: 5000, Discoverable: true}
	}
	dev := deviceEntry{Device: "dev-x", Address: "127.0.0.9", Version: "1", Started: time.Now()}
	puts := map[string][]byte{
		"dev-x._device":   mustJSON(t, dev),
		"dev-x.good":      mustJSON(t, good("good", "dev-x")),
		"dev-x.notjson":   []byte("{not json"),
		"dev-x.trailing":  append(mustJSON(t, good("trailing", "dev-x")), []byte("{}")...),
		"dev-x.otherdev":  mustJSON(t, good("otherdev", "dev-y")),
		"dev-x.othername": mustJSON(t, good("someoneelse", "dev-x")),
		"dev-x.port0":     mustJSON(t, fleetinfo.RemoteNode{Name: "port0", ID: "i", Device: "dev-x", Address: "127.0.0.9", Port: 0, Discoverable: true}),
		"dev-x.port70000": mustJSON(t, fleetinfo.RemoteNode{Name: "port70000", ID: "i", Device: "dev-x", Address: "127.0.0.9", Port: 70000, Discoverable: true}),
		"dev-x.noid":      mustJSON(t, fleetinfo.RemoteNode{Name: "noid", Device: "dev-x", Address: "127.0.0.9", Port: 1, Discoverable: true}),
		"dev-x.badaddr":   mustJSON(t, fleetinfo.RemoteNode{Name: "badaddr", ID: "i", Device: "dev-x", Address: "a b", Port: 1, Discoverable: true}),
		"dev-x.big":       mustJSON(t, fleetinfo.RemoteNode{Name: "big", ID: strings.Repeat("x", 100), Device: "dev-x", Address: strings.Repeat("a", 63) + "." + strings.Repeat("b", 4000), Port: 1}),
		"dev-x._other":    mustJSON(t, good("_other", "dev-x")),
		"noshape":         mustJSON(t, good("noshape", "dev-x")),
		"dev-x.a.b":       mustJSON(t, good("a.b", "dev-x")),
		"-bad.node":       mustJSON(t, good("node", "-bad")),
		"dev-x.-bad":      mustJSON(t, good("-bad", "dev-x")),
		// Our own device's entries are never served, even when valid.
		"dev-a.fake": mustJSON(t, good("fake", "dev-a")),
		// A node whose device has no device entry is not served.
		"dev-z.orphan": mustJSON(t, good("orphan", "dev-z")),
	}
	for k, v := range puts {
		if _, err := kv.Put(t.Context(), k, v); err != nil && !strings.Contains(k, "big") {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "good@dev-x served", func() bool { return len(a.Names()) > 0 })
	time.Sleep(200 * time.Millisecond) // let every put reach the watcher
	if got := a.Names(); !slices.Equal(got, []string{"good@dev-x"}) {
		t.Fatalf("served %v, want only good@dev-x", got)
	}
	for _, probe := range [][2]string{{"notjson", "dev-x"}, {"otherdev", "dev-x"}, {"otherdev", "dev-y"},
		{"someoneelse", "dev-x"}, {"othername", "dev-x"}, {"port0", "dev-x"}, {"fake", "dev-a"}, {"orphan", "dev-z"}} {
		if n, err := a.Lookup(probe[0], probe[1]); err == nil {
			t.Errorf("served %+v", n)
		}
	}
	logs := a.logs.String()
	if c := strings.Count(logs, "ignoring a bucket entry"); c < 10 {
		t.Fatalf("%d rejections logged, want the burst of 10:\n%s", c, logs)
	}

	// A new good entry still arrives after the bad ones (the watcher
	// survived them), and the device entry's removal drops its nodes.
	if _, err := kv.Put(t.Context(), "dev-x.late", mustJSON(t, good("late", "dev-x"))); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Second, "late@dev-x", func() bool { return len(a.Names()) == 2 })
	if err := kv.Delete(t.Context(), "dev-x._device"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 2*time.Second, "dev-x dropped with its device entry", func() bool { return len(a.Names()) == 0 })
}

func TestRateLimiter(t *testing.T) {
	r := rateLimiter{every: time.Second, burst: 2}
	now := time.Unix(1000, 0)
	for i, want := range []bool{true, true, false, false} {
		if ok, _ := r.allow(now); ok != want {
			t.Fatalf("call %d: %v", i, ok)
		}
	}
	ok, suppressed := r.allow(now.Add(time.Second))
	if !ok || suppressed != 2 {
		t.Fatalf("after the period: %v, %d suppressed", ok, suppressed)
	}
}

func TestThreeDevicesThousandNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 nodes")
	}
	const perDevice = 1000
	srv := fleettest.RunServer(t)
	// The production expiry: with the shortest one (3 s, a heartbeat a
	// second) a machine loaded by -race and other work can starve a writer
	// of 1,000 entries past the expiry, and the server then rightly
	// expires them.
	prod := func(c *Config) { c.Expiry = fleetinfo.DefaultExpiry }
	devs := []member{join(t, srv.URL(), "dev-a", prod), join(t, srv.URL(), "dev-b", prod), join(t, srv.URL(), "dev-c", prod)}
	waitConnected(t, devs...)
	start := time.Now()
	for _, d := range devs {
		for i := range perDevice {
			register(t, d, fmt.Sprintf("node-%04d", i), 10000+i)
		}
	}
	for _, d := range devs {
		// Status counts without building the sorted list, so polling
		// does not compete with the watcher.
		testutil.WaitFor(t, 20*time.Second, d.cfg.Device+" sees 2,000 remote nodes", func() bool {
			return d.Status().Nodes == 2*perDevice
		})
	}
	for _, d := range devs {
		if n := len(d.Names()); n != 2*perDevice {
			t.Fatalf("%s discovers %d", d.cfg.Device, n)
		}
	}
	t.Logf("3 × %d nodes converged in %s", perDevice, time.Since(start))
	// One heartbeat later nothing changed and nothing was lost.
	time.Sleep(devs[0].cfg.Heartbeat() + 500*time.Millisecond)
	for _, d := range devs {
		if n := len(d.Names()); n != 2*perDevice {
			t.Fatalf("%s: %d after a heartbeat", d.cfg.Device, n)
		}
	}
	// Unregister all of one device: gone from the others.
	for i := range perDevice {
		devs[0].Unregister(fmt.Sprintf("node-%04d", i))
	}
	testutil.WaitFor(t, 10*time.Second, "dev-a's nodes gone", func() bool {
		return devs[1].Status().Nodes == perDevice && devs[2].Status().Nodes == perDevice
	})
}
