package runner

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
)

// peerFunc is a PeerCaller made of a function; it records the calls.
type peerFunc struct {
	mu    sync.Mutex
	calls []string // "peer target args"
	fn    func(peer, target string, args []string) ([]string, error)
}

func (p *peerFunc) CallPeer(ctx context.Context, peer, target string, args []string) ([]string, error) {
	p.mu.Lock()
	p.calls = append(p.calls, peer+" "+target+" "+strings.Join(args, ","))
	p.mu.Unlock()
	return p.fn(peer, target, args)
}

// addPeer answers every call with the sum of its two i32 arguments.
func addPeer() *peerFunc {
	return &peerFunc{fn: func(_, _ string, args []string) ([]string, error) {
		a, _ := strconv.Atoi(args[0])
		b, _ := strconv.Atoi(args[1])
		return []string{strconv.Itoa(a + b)}, nil
	}}
}

// rawModule is a module whose export "raw" passes its six i32 parameters
// to gvm.call_i32 unchanged, so tests choose every pointer and length. Its
// memory (one page, when withMemory) holds "node-bmath.add" at 0. Encoded
// by hand: the example encoder is a command of its own.
func rawModule(withMemory bool) []byte {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, content ...byte) { b = append(append(b, id, byte(len(content))), content...) }
	section(1, 0x01, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f) // (i32 ×6) -> i32
	imp := []byte{0x01, 0x03, 'g', 'v', 'm', 0x08}
	imp = append(append(imp, "call_i32"...), 0x00, 0x00)
	section(2, imp...)
	section(3, 0x01, 0x00)
	if withMemory {
		section(5, 0x01, 0x00, 0x01)
	}
	section(7, 0x01, 0x03, 'r', 'a', 'w', 0x00, 0x01)
	body := []byte{0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0x20, 0x03, 0x20, 0x04, 0x20, 0x05, 0x10, 0x00, 0x0b}
	section(10, append([]byte{0x01, byte(len(body))}, body...)...)
	if withMemory {
		text := "node-bmath.add"
		section(11, append([]byte{0x01, 0x00, 0x41, 0x00, 0x0b, byte(len(text))}, text...)...)
	}
	return b
}

func loadBytes(t *testing.T, r *Runtime, name string, wasm []byte) *Module {
	t.Helper()
	m, err := r.Load(t.Context(), name, wasm)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// relay's add_via calls math.add on the default peer with its arguments.
func TestHostCallRelay(t *testing.T) {
	p := addPeer()
	r := newRuntime(t, Options{Peers: p, DefaultPeer: "node-b"})
	m := load(t, r, "relay")
	for _, c := range [][3]string{{"2", "3", "5"}, {"-7", "2", "-5"}, {"2147483647", "0", "2147483647"}} {
		got, err := m.Call(t.Context(), "add_via", []string{c[0], c[1]})
		if err != nil || len(got) != 1 || got[0] != c[2] {
			t.Errorf("add_via(%s, %s) = %v, %v; want %s", c[0], c[1], got, err, c[2])
		}
	}
	if want := "node-b math.add 2,3"; len(p.calls) != 3 || p.calls[0] != want {
		t.Errorf("calls %q, want the first %q", p.calls, want)
	}
}

// Every failure of a host call traps the calling module with a message
// naming the peer and the target, and the module stays usable.
func TestHostCallTraps(t *testing.T) {
	answer := func(res []string, err error) *peerFunc {
		return &peerFunc{fn: func(string, string, []string) ([]string, error) { return res, err }}
	}
	gone := fmt.Errorf("no live node named node-b: %w", errdefs.ErrNotFound)
	for _, c := range []struct {
		what   string
		opts   Options
		memory bool
		args   []string // peer_ptr peer_len target_ptr target_len a b
		want   []string // in the trap message
	}{
		{"peer gone", Options{Peers: answer(nil, gone)}, true, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"gvm.call_i32 of math.add on node node-b: no live node named node-b"}},
		{"two results", Options{Peers: answer([]string{"1", "2"}, nil)}, true, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"on node node-b", "2 result(s)"}},
		{"not an i32", Options{Peers: answer([]string{"1.5"}, nil)}, true, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"on node node-b", `"1.5", not an i32`}},
		{"i32 overflow", Options{Peers: answer([]string{"4294967296"}, nil)}, true, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"not an i32"}},
		{"no caller", Options{}, true, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"on node node-b", "does not call other nodes"}},
		{"no default peer", Options{Peers: addPeer()}, true, []string{"0", "0", "6", "8", "1", "2"},
			[]string{"call_i32 of math.add:", "no default peer"}},
		{"empty target", Options{Peers: addPeer()}, true, []string{"0", "6", "0", "0", "1", "2"},
			[]string{"target is empty"}},
		{"target past the end", Options{Peers: addPeer()}, true, []string{"0", "6", "65530", "8", "1", "2"},
			[]string{"the target (8 bytes at 65530) is outside the module's memory of 65536 bytes"}},
		{"peer pointer far out", Options{Peers: addPeer()}, true, []string{"4294967295", "6", "6", "8", "1", "2"},
			[]string{"math.add", "the peer (6 bytes at 4294967295) is outside"}},
		{"huge length", Options{Peers: addPeer()}, true, []string{"0", "6", "0", "4294967295", "1", "2"},
			[]string{"the target is 4294967295 bytes long, more than 1024"}},
		{"no memory", Options{Peers: addPeer()}, false, []string{"0", "6", "6", "8", "1", "2"},
			[]string{"the module has no memory"}},
	} {
		r := newRuntime(t, c.opts)
		m := loadBytes(t, r, "raw", rawModule(c.memory))
		for range 2 { // the same instance traps the same way again
			_, err := m.Call(t.Context(), "raw", c.args)
			var trap *TrapError
			if !errors.As(err, &trap) {
				t.Fatalf("%s: %v, want a trap", c.what, err)
			}
			msg := err.Error()
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s: %q lacks %q", c.what, msg, w)
				}
			}
			if strings.Contains(msg, "recovered") || strings.Contains(msg, "\n") {
				t.Errorf("%s: %q is not one clean line", c.what, msg)
			}
		}
	}
}

// A host call names its own peer, or none for the default; the module
// keeps working after a trap.
func TestHostCallNamedPeer(t *testing.T) {
	p := addPeer()
	r := newRuntime(t, Options{Peers: p, DefaultPeer: "fallback"})
	m := loadBytes(t, r, "raw", rawModule(true))
	if _, err := m.Call(t.Context(), "raw", []string{"0", "6", "70000", "8", "1", "2"}); err == nil {
		t.Fatal("a target outside memory did not trap")
	}
	for _, c := range []struct{ args, call string }{
		{"0 6 6 8 40 2", "node-b math.add 40,2"},
		{"0 0 6 8 1 1", "fallback math.add 1,1"},
	} {
		got, err := m.Call(t.Context(), "raw", strings.Fields(c.args))
		if err != nil || got[0] == "" {
			t.Fatalf("raw %s: %v %v", c.args, got, err)
		}
		if last := p.calls[len(p.calls)-1]; last != c.call {
			t.Errorf("raw %s called %q, want %q", c.args, last, c.call)
		}
	}
}

// Imports of the host module are checked by name like WASI's.
func TestHostImportsChecked(t *testing.T) {
	r := newRuntime(t, Options{})
	wasm := rawModule(true)
	bad := []byte(strings.Replace(string(wasm), "call_i32", "call_f64", 1))
	_, err := r.Load(t.Context(), "bad", bad)
	var ie *ImportError
	if !errors.As(err, &ie) || !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "gvm.call_f64") {
		t.Fatalf("Load: %v, want an ImportError naming gvm.call_f64", err)
	}
	if _, err := r.Load(t.Context(), "relay", wasm); err != nil {
		t.Fatalf("gvm.call_i32 refused: %v", err)
	}
}

// A host call stops when the module's call is cancelled.
func TestHostCallCancelled(t *testing.T) {
	started := make(chan struct{})
	p := &peerFunc{}
	ctx, cancel := context.WithCancel(t.Context())
	p.fn = func(string, string, []string) ([]string, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	r := newRuntime(t, Options{Peers: p, DefaultPeer: "slow"})
	m := load(t, r, "relay")
	go func() { <-started; cancel() }()
	if _, err := m.Call(ctx, "add_via", []string{"1", "2"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}
