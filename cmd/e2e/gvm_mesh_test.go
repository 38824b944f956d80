package e2e

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// Two serving nodes call each other through the host module: relay.add_via
// on one runs math.add on the other (its --peer). The callee killed with
// SIGKILL makes the caller's calls fail with one line naming it while the
// caller keeps serving; restarted, it is called again.
func TestGVMNodesCallEachOther(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "relay@v1.0.0")
	g.serve("node-a", "--peer", "node-b")
	b := g.serve("node-b", "--peer", "node-a")

	if out := g.gvmOK("call", "node-a", "relay.add_via", "2", "3"); out != "5\n" {
		t.Errorf("node-a relay.add_via 2 3 (math.add on node-b) printed %q", out)
	}
	if out := g.gvmOK("call", "node-b", "relay.add_via", "20", "22"); out != "42\n" {
		t.Errorf("node-b relay.add_via 20 22 (math.add on node-a) printed %q", out)
	}

	// Concurrent callers on both nodes: the nodes' connections to each
	// other are shared by the calls in flight.
	a, bc := g.dialPeer("node-a"), g.dialPeer("node-b")
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				pc := a
				if (w+i)%2 == 1 {
					pc = bc
				}
				res, err := pc.Call(t.Context(), "relay.add_via", "", []string{strconv.Itoa(i), strconv.Itoa(w)})
				if err != nil || len(res) != 1 || res[0] != strconv.Itoa(i+w) {
					t.Errorf("caller %d call %d: %v %v", w, i, res, err)
					return
				}
			}
		})
	}
	wg.Wait()

	b.signal(syscall.SIGKILL)
	// At once, whether GPMD has dropped node-b yet or not: CONNECT finds
	// no node, or finds it and the dial is refused; either way one line
	// that names the peer and the function.
	r := g.gvm("call", "node-a", "relay.add_via", "2", "3")
	if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, "gvm.call_i32 of math.add on node node-b") {
		t.Errorf("call through the killed node: %v", r)
	}
	t.Logf("at once after SIGKILL: %s", r.stderr)
	testutil.WaitFor(t, 5*time.Second, "node-b to leave NODES", func() bool {
		return !slices.Contains(g.nodes(), "node-b")
	})
	r = g.gvm("call", "node-a", "relay.add_via", "2", "3")
	if line := oneLine(t, r); r.code != 1 || !strings.Contains(line, "on node node-b: no live node named node-b") {
		t.Errorf("call through the dead node: %v", r)
	}
	if out := g.gvmOK("call", "node-a", "math.add", "1", "2"); out != "3\n" {
		t.Errorf("node-a after node-b died printed %q", out)
	}

	g.serve("node-b", "--peer", "node-a")
	if out := g.gvmOK("call", "node-a", "relay.add_via", "2", "3"); out != "5\n" {
		t.Errorf("node-a relay.add_via after node-b restarted printed %q", out)
	}
	if out := g.gvmOK("call", "node-b", "relay.add_via", "7", "8"); out != "15\n" {
		t.Errorf("the restarted node-b relay.add_via printed %q", out)
	}
}

// What goes wrong in a host call comes back as one line naming the peer:
// no --peer, a peer that is not running, a peer that never answers (the
// call timeout), and gvm run, which calls no node.
func TestGVMHostCallErrors(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "relay@v1.0.0")

	// A registered node that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	nc, err := net.Dial("tcp", g.gmpAddr)
	if err != nil {
		t.Fatal(err)
	}
	mute := client.NewClient(nc, client.ClientOptions{})
	t.Cleanup(func() { mute.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := mute.Hello(ctx, "e2e-mute"); err != nil {
		t.Fatal(err)
	}
	if _, err := mute.Register(ctx, "mute", "6f1e0c52-3c1a-4b7e-9d2a-1b2c3d4e5f60", l.Addr().(*net.TCPAddr).Port, true); err != nil {
		t.Fatal(err)
	}

	g.serve("alone")
	g.serve("lost", "--peer", "nobody")
	g.serve("patient", "--peer", "mute", "--call-timeout", "300ms")
	for _, c := range []struct {
		node string
		want string
	}{
		{"alone", "gvm.call_i32 of math.add: no peer named and this node has no default peer (gvm serve --peer)"},
		{"lost", "gvm.call_i32 of math.add on node nobody: no live node named nobody"},
		{"patient", "gvm.call_i32 of math.add on node mute: no answer within 300ms"},
	} {
		start := time.Now()
		r := g.gvm("call", c.node, "relay.add_via", "1", "2")
		if line := oneLine(t, r); r.code != 1 || !strings.Contains(line, c.want) || !strings.Contains(line, "node "+c.node+": module relay@v1.0.0: add_via trapped") {
			t.Errorf("call %s: %v\nwant exit 1 and %q", c.node, r, c.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("call %s took %s", c.node, d)
		}
		if out := g.gvmOK("call", c.node, "math.mul", "6", "7"); out != "42\n" {
			t.Errorf("%s after the failed host call printed %q", c.node, out)
		}
	}

	r := g.gvm("run", "relay", "add_via", "1", "2")
	if line := oneLine(t, r); r.code != 1 || !strings.Contains(line, "this GVM does not call other nodes") {
		t.Errorf("gvm run relay: %v", r)
	}
}
