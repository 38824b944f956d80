package main

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/examples/modules"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gvm/peer"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// mathNode answers every call with the example math module.
type mathNode struct{ m *runner.Module }

func (h mathNode) Call(ctx context.Context, c peer.Call) ([]string, error) {
	return h.m.Call(ctx, c.Function, c.Args)
}

// gmpConn is a HELLOed GMP connection to addr, closed when the test ends.
func gmpConn(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, _, err := dialGMP(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// startGMP runs a real GMP server (no module store: CONNECT is all
// outbound needs) on a loopback port.
func startGMP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := gmp.NewServer(gmp.Config{})
	done := make(chan struct{})
	go func() { s.Serve(l); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return l.Addr().String()
}

// servePeer runs a peer server with the math module on a loopback port and
// registers it with GMP as name. stop ends both, as a node's death does.
func servePeer(t *testing.T, gmpAddr, name string) (stop func()) {
	t.Helper()
	ctx := context.Background()
	rt, err := runner.New(ctx, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(ctx, "math", modules.MustWasm("math"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := peer.NewServer(mathNode{m})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	reg, _, err := dialGMP(ctx, gmpAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := (registration{name: name, id: newNodeID(), port: portOf(l.Addr())}).register(ctx, reg); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			reg.Close()
			srv.Close()
			<-served
			rt.Close(ctx)
		})
	}
	t.Cleanup(stop)
	return stop
}

func newTestOutbound(t *testing.T, c *client.Client, timeout time.Duration) *outbound {
	o := newOutbound(func() *client.Client { return c }, timeout)
	t.Cleanup(o.Close)
	return o
}

// Calls share one connection per peer, concurrent ones included; a peer
// that died and came back elsewhere is found and dialled again.
func TestOutboundReusesAndRedials(t *testing.T) {
	addr := startGMP(t)
	stop := servePeer(t, addr, "b")
	o := newTestOutbound(t, gmpConn(t, addr), 5*time.Second)

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				res, err := o.CallPeer(t.Context(), "b", "math.add", []string{strconv.Itoa(i), strconv.Itoa(w)})
				if err != nil || len(res) != 1 || res[0] != strconv.Itoa(i+w) {
					t.Errorf("call %d/%d: %v %v", w, i, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
	o.mu.Lock()
	first, n := o.conns["b"], len(o.conns)
	o.mu.Unlock()
	if n != 1 || first == nil {
		t.Fatalf("%d connections kept, want 1 to b", n)
	}

	stop()
	// The registration ended with the node's GMP connection; wait until
	// GPMD has read that end.
	deadline := time.Now().Add(5 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = o.CallPeer(t.Context(), "b", "math.add", []string{"1", "2"}); errors.Is(err, errdefs.ErrNotFound) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "no live node named b") {
		t.Fatalf("call to the dead b: %v", err)
	}

	servePeer(t, addr, "b")
	if res, err := o.CallPeer(t.Context(), "b", "math.mul", []string{"6", "7"}); err != nil || res[0] != "42" {
		t.Fatalf("call to the restarted b: %v %v", res, err)
	}
	o.mu.Lock()
	second := o.conns["b"]
	o.mu.Unlock()
	if second == first || second == nil {
		t.Error("the connection to the dead b was not replaced")
	}
}

// Each way a call fails says what happened, with its class.
func TestOutboundErrors(t *testing.T) {
	addr := startGMP(t)
	servePeer(t, addr, "b")
	o := newTestOutbound(t, gmpConn(t, addr), 5*time.Second)

	_, err := o.CallPeer(t.Context(), "b", "math.sub", []string{"1", "2"})
	var re *peer.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, errdefs.ErrNotFound) || !strings.HasPrefix(err.Error(), "it answered: ") {
		t.Errorf("unknown function: %v", err)
	}

	// A registered node that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held sync.WaitGroup
	t.Cleanup(func() { l.Close(); held.Wait() })
	held.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held.Go(func() { <-t.Context().Done(); c.Close() })
		}
	})
	if err := (registration{name: "mute", id: newNodeID(), port: portOf(l.Addr())}).register(t.Context(), gmpConn(t, addr)); err != nil {
		t.Fatal(err)
	}
	short := newTestOutbound(t, gmpConn(t, addr), 100*time.Millisecond)
	start := time.Now()
	_, err = short.CallPeer(t.Context(), "mute", "math.add", []string{"1", "2"})
	if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Errorf("mute node: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout of 100ms took %s", d)
	}

	// Registered, but nothing listens at its port.
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(gone.Addr())
	gone.Close()
	if err := (registration{name: "deaf", id: newNodeID(), port: port}).register(t.Context(), gmpConn(t, addr)); err != nil {
		t.Fatal(err)
	}
	if _, err := o.CallPeer(t.Context(), "deaf", "math.add", []string{"1", "2"}); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "refuses the connection at 127.0.0.1:"+strconv.Itoa(port)) {
		t.Errorf("deaf node: %v", err)
	}

	away := newTestOutbound(t, nil, time.Second)
	if _, err := away.CallPeer(t.Context(), "b", "math.add", []string{"1", "2"}); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "gpmd is not reachable") {
		t.Errorf("without gpmd: %v", err)
	}

	o.Close()
	if _, err := o.CallPeer(t.Context(), "b", "math.add", []string{"1", "2"}); !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "stopping") {
		t.Errorf("after Close: %v", err)
	}
}
