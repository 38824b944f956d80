package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/examples/modules"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// mathHandler runs the example math module (and trap) for every call.
type mathHandler struct{ mods map[string]*runner.Module }

func (h *mathHandler) Call(ctx context.Context, c Call) ([]string, error) {
	m, ok := h.mods[c.Module]
	if !ok {
		return nil, fmt.Errorf("no module %s: %w", c.Module, errdefs.ErrNotFound)
	}
	return m.Call(ctx, c.Function, c.Args)
}

// startServer serves the example modules on a loopback port.
func startServer(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	rt, err := runner.New(ctx, runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &mathHandler{mods: map[string]*runner.Module{}}
	for _, n := range []string{"math", "trap"} {
		m, err := rt.Load(ctx, n, modules.MustWasm(n))
		if err != nil {
			t.Fatal(err)
		}
		h.mods[n] = m
	}
	t.Cleanup(func() { rt.Close(ctx) }) // after the server's cleanup: cleanups run last first
	return serveHandler(t, h)
}

// serveHandler serves h on a loopback port until the test ends.
func serveHandler(t testing.TB, h Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(h)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCallAndErrors(t *testing.T) {
	c := dial(t, startServer(t))
	res, err := c.Call(t.Context(), "math.add", "", []string{"2", "3"})
	if err != nil || len(res) != 1 || res[0] != "5" {
		t.Fatalf("math.add 2 3 = %v, %v", res, err)
	}
	for _, tc := range []struct {
		target string
		args   []string
		code   string
		class  error
	}{
		{"math.sub", []string{"1", "2"}, CodeNotFound, errdefs.ErrNotFound},
		{"math.add", []string{"1"}, CodeBadRequest, errdefs.ErrInvalid},
		{"math.add", []string{"1", "x"}, CodeBadRequest, errdefs.ErrInvalid},
		{"mathadd", nil, CodeBadRequest, errdefs.ErrInvalid},
		{"trap.boom", nil, CodeTrap, nil},
	} {
		_, err := c.Call(t.Context(), tc.target, "", tc.args)
		var re *RemoteError
		if !errors.As(err, &re) || re.Code != tc.code || (tc.class != nil && !errors.Is(err, tc.class)) {
			t.Errorf("%s %v: %v, want code %s", tc.target, tc.args, err, tc.code)
		}
	}
	// The connection survives error answers.
	if res, err := c.Call(t.Context(), "math.mul", "", []string{"6", "7"}); err != nil || res[0] != "42" {
		t.Fatalf("after errors: %v %v", res, err)
	}
}

// Many goroutines share one connection; every answer reaches its caller.
func TestPipelinedCalls(t *testing.T) {
	c := dial(t, startServer(t))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				res, err := c.Call(context.Background(), "math.add", "", []string{strconv.Itoa(g), strconv.Itoa(i)})
				if err != nil || res[0] != strconv.Itoa(g+i) {
					t.Errorf("add %d %d = %v, %v", g, i, res, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Raw lines: a line that is not a call is answered with bad_request and the
// connection goes on; a line past MaxMessage ends it.
func TestBadLines(t *testing.T) {
	nc, err := net.Dial("tcp", startServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	nc.Write([]byte("nonsense\n{\"id\":7,\"call\":\"math.add\",\"args\":[\"1\",\"1\"]}\n"))
	for _, want := range []string{`"code":"bad_request"`, `{"id":7,"results":["2"]}`} {
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, want) {
			t.Fatalf("got %q, %v; want %s", line, err, want)
		}
	}
	nc.Write([]byte(strings.Repeat("x", MaxMessage+10) + "\n"))
	line, _ := br.ReadString('\n')
	if !strings.Contains(line, "longer than the limit") {
		t.Errorf("oversized line answered %q", line)
	}
	if _, err := br.ReadString('\n'); err == nil {
		t.Error("connection still open after an oversized line")
	}
}

// A server that goes away fails calls with ErrUnavailable.
func TestServerGone(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(&mathHandler{})
	go s.Serve(l)
	c := dial(t, l.Addr().String())
	s.Close()
	if _, err := c.Call(t.Context(), "math.add", "", []string{"1", "2"}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("call to a closed server: %v", err)
	}
	if _, err := Dial(t.Context(), l.Addr().String()); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("dial of a closed server: %v", err)
	}
}

// BenchmarkRoundTrip: one call at a time on one connection (the issue
// wants at least 20,000 calls/s).
func BenchmarkRoundTrip(b *testing.B) {
	c := dial(b, startServer(b))
	args := []string{"2", "3"}
	for b.Loop() {
		if _, err := c.Call(context.Background(), "math.add", "", args); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}

// BenchmarkPipelined: many goroutines sharing one connection.
func BenchmarkPipelined(b *testing.B) {
	c := dial(b, startServer(b))
	b.RunParallel(func(pb *testing.PB) {
		args := []string{"2", "3"}
		for pb.Next() {
			if _, err := c.Call(context.Background(), "math.add", "", args); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
