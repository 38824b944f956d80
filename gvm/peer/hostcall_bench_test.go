package peer

import (
	"context"
	"testing"

	"github.com/ghost-network/gpmd/examples/modules"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// clientPeers sends every host call to one node over one connection: what
// gvm serve's outbound does once it has found and dialled the peer.
type clientPeers struct{ c *Client }

func (p clientPeers) CallPeer(ctx context.Context, _, target string, args []string) ([]string, error) {
	return p.c.Call(ctx, target, "", args)
}

// relayModule loads the relay example in a runtime whose host calls go to
// the node at addr.
func relayModule(tb testing.TB, addr string) *runner.Module {
	tb.Helper()
	ctx := context.Background()
	rt, err := runner.New(ctx, runner.Options{Peers: clientPeers{dial(tb, addr)}, DefaultPeer: "math-node"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Load(ctx, "relay", modules.MustWasm("relay"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// The relay module's host call reaches the other node and returns its
// answer; the other node's error answer traps naming it.
func TestHostCallOverPeer(t *testing.T) {
	m := relayModule(t, startServer(t))
	if res, err := m.Call(t.Context(), "add_via", []string{"2", "3"}); err != nil || res[0] != "5" {
		t.Fatalf("add_via: %v %v", res, err)
	}
}

// BenchmarkHostCall: a module calls math.add on another node through the
// host function (gvm.call_i32), one call at a time on one connection: the
// node-to-node round trip as a module sees it, beside BenchmarkRoundTrip.
func BenchmarkHostCall(b *testing.B) {
	m := relayModule(b, startServer(b))
	args := []string{"2", "3"}
	for b.Loop() {
		if _, err := m.Call(context.Background(), "add_via", args); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkRelayRoundTrip: a caller asks node A for relay.add_via, whose
// host call asks node B for math.add: two node-to-node round trips per
// call, what `gvm call A relay.add_via` costs after its CONNECT.
func BenchmarkRelayRoundTrip(b *testing.B) {
	m := relayModule(b, startServer(b))
	c := dial(b, serveHandler(b, &mathHandler{mods: map[string]*runner.Module{"relay": m}}))
	args := []string{"2", "3"}
	for b.Loop() {
		if _, err := c.Call(context.Background(), "relay.add_via", "", args); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
