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

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gvm/peer"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// Two serving nodes (one undiscoverable); each answers calls made through
// CONNECT; errors from a node come back as one line.
func TestGVMTwoNodesServeAndCall(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "trap@v1.0.0")
	g.serve("alpha")
	g.serve("beta", "--discoverable=false")
	if got := g.nodes(); !slices.Equal(got, []string{"alpha"}) {
		t.Errorf("discoverable nodes %v, want [alpha]", got)
	}
	if out := g.gvmOK("call", "alpha", "math.add", "2", "3"); out != "5\n" {
		t.Errorf("call alpha printed %q", out)
	}
	if out := g.gvmOK("call", "beta", "math.mul", "6", "7"); out != "42\n" {
		t.Errorf("call beta (undiscoverable, found by CONNECT) printed %q", out)
	}
	if out := g.gvmOK("call", "--version", "^0.0.1", "beta", "math.add", "1", "1"); out != "2\n" {
		t.Errorf("call with a version printed %q", out)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"call", "alpha", "math.sub", "1", "2"}, 4, `no function "sub"`},
		{[]string{"call", "alpha", "math.add", "1"}, 2, "takes 2 argument(s)"},
		{[]string{"call", "beta", "trap.boom"}, 1, "boom trapped"},
		{[]string{"call", "alpha", "nosuch.f"}, 4, "no module named nosuch"},
	} {
		r := g.gvm(c.args...)
		if r.code != c.code || !strings.Contains(oneLine(t, r), c.want) {
			t.Errorf("gvm %v: exit %d, want %d and %q\n%v", c.args, r.code, c.code, c.want, r)
		}
	}
	// Many calls on one connection to each node, dialled at the address
	// and port GPMD's CONNECT gives (what gvm call does, and what a node
	// does for its modules' host calls: gvm_mesh_test.go).
	alpha, beta := g.dialPeer("alpha"), g.dialPeer("beta")
	for i := range 50 {
		a, err1 := alpha.Call(t.Context(), "math.add", "", []string{strconv.Itoa(i), "1"})
		b, err2 := beta.Call(t.Context(), "math.mul", "", []string{strconv.Itoa(i), "2"})
		if err1 != nil || err2 != nil || a[0] != strconv.Itoa(i+1) || b[0] != strconv.Itoa(2*i) {
			t.Fatalf("call %d: %v %v %v %v", i, a, err1, b, err2)
		}
	}
}

// dialPeer finds a node with CONNECT and opens a peer connection to it.
func (g *gvmEnv) dialPeer(name string) (pc *peer.Client) {
	g.t.Helper()
	g.withGMP(func(ctx context.Context, c *client.Client) {
		n, err := c.Connect(ctx, name)
		if err != nil {
			g.t.Fatalf("CONNECT %s: %v", name, err)
		}
		if pc, err = peer.Dial(ctx, net.JoinHostPort(n.Address, strconv.Itoa(n.Port))); err != nil {
			g.t.Fatal(err)
		}
	})
	g.t.Cleanup(func() { pc.Close() })
	return pc
}

// A serving node killed with SIGKILL leaves NODES and CONNECT at once; the
// other node goes on.
func TestGVMServeKilledDisappears(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1")
	g.serve("stays")
	victim := g.serve("victim")
	if got := g.nodes(); !slices.Equal(got, []string{"stays", "victim"}) {
		t.Fatalf("nodes %v", got)
	}
	victim.signal(syscall.SIGKILL)
	start := time.Now()
	// The kernel closed the victim's GMP connection as the process died;
	// GPMD drops the registration as it reads the end of stream.
	testutil.WaitFor(t, time.Second, "victim to leave NODES", func() bool {
		return !slices.Contains(g.nodes(), "victim")
	})
	t.Logf("victim left NODES %v after its death was reaped", time.Since(start))
	if r := g.gvm("call", "victim", "math.add", "1", "2"); r.code != 4 {
		t.Errorf("call to the killed node: %v", r)
	}
	if out := g.gvmOK("call", "stays", "math.add", "1", "2"); out != "3\n" {
		t.Errorf("the other node printed %q", out)
	}
}

// SIGINT and SIGTERM unregister and exit 0.
func TestGVMServeSignalsUnregister(t *testing.T) {
	g := newGVMEnv(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		s := g.serve("sig")
		if code := s.signal(sig); code != 0 {
			t.Errorf("%v: exit %d; stderr %s", sig, code, s.stderr.String())
		}
		if live := g.liveNodes(); len(live) != 0 {
			t.Errorf("after %v: still registered %v", sig, live)
		}
	}
}

// GPMD killed and restarted on the same GMP address under a serving node:
// the node keeps its loaded modules meanwhile, reconnects and registers
// again.
func TestGVMServeSurvivesGPMDRestart(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1")
	s := g.serve("survivor")
	if out := g.gvmOK("call", "survivor", "math.add", "2", "3"); out != "5\n" {
		t.Fatalf("call printed %q", out)
	}
	pc := g.dialPeer("survivor") // a peer connection does not need GPMD

	st, err := conf.ReadState(g.dir)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(st.PID, syscall.SIGKILL)
	if !g.waitStopped(10 * time.Second) {
		t.Fatal("gpmd did not die")
	}
	if res, err := pc.Call(t.Context(), "math.mul", "", []string{"3", "4"}); err != nil || res[0] != "12" {
		t.Errorf("call while GPMD is down: %v %v", res, err)
	}
	g.start("--gmp-addr", st.GMPAddr)
	testutil.WaitFor(t, 15*time.Second, "survivor to register again", func() bool {
		return slices.Contains(g.nodes(), "survivor")
	})
	if out := g.gvmOK("call", "survivor", "math.add", "2", "3"); out != "5\n" {
		t.Errorf("call after the restart printed %q", out)
	}
	if !strings.Contains(s.stderr.String(), "registered again") {
		t.Errorf("serve's log does not say it registered again: %s", s.stderr.String())
	}
}

// --follow-latest switches to a new latest between calls while calls run:
// no call fails, each caller sees the old answer, then only the new one.
func TestGVMFollowLatestWhileCallsRun(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1")
	g.serve("follower", "--follow-latest", "--poll-interval", "50ms")
	g.serve("pinned") // without the flag, the loaded module stays
	follower, pinned := g.dialPeer("follower"), g.dialPeer("pinned")
	if res, err := pinned.Call(t.Context(), "math.add", "", []string{"2", "3"}); err != nil || res[0] != "5" {
		t.Fatalf("pinned: %v %v", res, err)
	}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		switched = make([]bool, 4)
		calls    int
	)
	stop := make(chan struct{})
	for w := range switched {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				res, err := follower.Call(context.Background(), "math.add", "", []string{"2", "3"})
				mu.Lock()
				calls++
				mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("caller %d call %d failed: %v", w, i, err)
					return
				case res[0] == "1005":
					mu.Lock()
					switched[w] = true
					mu.Unlock()
				case res[0] == "5":
					mu.Lock()
					back := switched[w]
					mu.Unlock()
					if back {
						t.Errorf("caller %d got the old version after the new one", w)
						return
					}
				default:
					t.Errorf("caller %d: result %v", w, res)
					return
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // calls run on v0.0.1
	g.upload("math_v2:math@v0.0.2")
	testutil.WaitFor(t, 10*time.Second, "every caller to see v0.0.2", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !slices.Contains(switched, false)
	})
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d calls, none failed", calls)
	if res, err := pinned.Call(t.Context(), "math.add", "", []string{"2", "3"}); err != nil || res[0] != "5" {
		t.Errorf("the node without --follow-latest switched: %v %v", res, err)
	}
}
