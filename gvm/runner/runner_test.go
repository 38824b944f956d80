package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/examples/modules"
)

func newRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	r, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func load(t *testing.T, r *Runtime, name string) *Module {
	t.Helper()
	m, err := r.Load(t.Context(), name, modules.MustWasm(name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCallMath(t *testing.T) {
	r := newRuntime(t, Options{CacheDir: t.TempDir()})
	m := load(t, r, "math")
	for _, c := range []struct {
		fn   string
		args []string
		want string
	}{
		{"add", []string{"2", "3"}, "5"},
		{"mul", []string{"6", "7"}, "42"},
		{"add", []string{"-5", "2"}, "-3"},
		{"add", []string{"4294967295", "1"}, "0"}, // unsigned reading of -1
		{"add", []string{"0x10", "1"}, "17"},
	} {
		got, err := m.Call(t.Context(), c.fn, c.args)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%s%v = %v, %v; want %s", c.fn, c.args, got, err, c.want)
		}
	}
	if got := strings.Join(m.Exports(), ","); got != "add,mul" {
		t.Errorf("exports %s", got)
	}
}

func TestCallErrors(t *testing.T) {
	r := newRuntime(t, Options{})
	m := load(t, r, "math")
	_, err := m.Call(t.Context(), "sub", []string{"1", "2"})
	if !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "add, mul") {
		t.Errorf("missing function: %v", err)
	}
	for _, args := range [][]string{{"1"}, {"1", "2", "3"}, {"1", "x"}, {"4294967296", "1"}, {"-2147483649", "0"}, {"1.5", "1"}} {
		if _, err := m.Call(t.Context(), "add", args); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("add%v: %v, want ErrInvalid", args, err)
		}
	}
	trap := load(t, r, "trap")
	_, err = trap.Call(t.Context(), "boom", nil)
	var te *TrapError
	if !errors.As(err, &te) || te.Function != "boom" || !strings.Contains(te.Message, "unreachable") || strings.Contains(err.Error(), "\n") {
		t.Errorf("trap: %v", err)
	}
	_, err = r.Load(t.Context(), "needsenv", modules.MustWasm("needsenv"))
	var ie *ImportError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "env.log") {
		t.Errorf("imports: %v", err)
	}
	if _, err := r.Load(t.Context(), "junk", []byte("not wasm")); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("junk: %v", err)
	}
}

func TestWASIHello(t *testing.T) {
	var out bytes.Buffer
	r := newRuntime(t, Options{Stdout: &out})
	m := load(t, r, "hello")
	if out.Len() != 0 {
		t.Fatalf("instantiating printed %q", out.String())
	}
	res, err := m.Call(t.Context(), "hello", nil)
	if err != nil || len(res) != 0 {
		t.Fatalf("hello: %v %v", res, err)
	}
	if out.String() != "hello from wasm\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// Concurrent calls on one module are serialised, and Close waits for them.
func TestConcurrentCallsAndClose(t *testing.T) {
	r := newRuntime(t, Options{})
	m := load(t, r, "math")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				got, err := m.Call(context.Background(), "mul", []string{"3", "7"})
				if err != nil && !errors.Is(err, errdefs.ErrUnavailable) {
					t.Errorf("goroutine %d: %v", i, err)
					return
				}
				if err == nil && got[0] != "21" {
					t.Errorf("got %v", got)
				}
			}
		})
	}
	m.Close(context.Background())
	wg.Wait()
}

func BenchmarkCall(b *testing.B) {
	r, err := New(context.Background(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close(context.Background())
	m, err := r.Load(context.Background(), "math", modules.MustWasm("math"))
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"2", "3"}
	for b.Loop() {
		if _, err := m.Call(context.Background(), "add", args); err != nil {
			b.Fatal(err)
		}
	}
}
