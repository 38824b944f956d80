package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Upload math, run it; WASI output reaches the terminal; nothing stays
// registered.
func TestGVMUploadAndRun(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "hello@v1.0.0")
	if out := g.gvmOK("run", "math", "add", "2", "3"); out != "5\n" {
		t.Errorf("gvm run math add 2 3 printed %q", out)
	}
	if out := g.gvmOK("run", "--name", "runner-1", "math", "mul", "-6", "7"); out != "-42\n" {
		t.Errorf("mul printed %q", out)
	}
	if out := g.gvmOK("run", "hello", "hello"); out != "hello from wasm\n" {
		t.Errorf("hello printed %q", out)
	}
	if live := g.liveNodes(); len(live) != 0 {
		t.Errorf("nodes left registered: %v", live)
	}
}

func TestGVMRunByVersionAndConstraint(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "math_v2:math@v0.0.2")
	for ref, want := range map[string]string{
		"math":                "1005", // latest is v0.0.2
		"math@latest":         "1005",
		"math@v0.0.1":         "5",
		"math@0.0.2":          "1005",
		"math@^0.0.1":         "5", // ^0.0.1 is >=0.0.1 <0.0.2
		"math@<0.0.2":         "5",
		"math@>=0.0.1":        "1005",
		"math@~0.0":           "1005",
		"math@>=0.0.1 <0.0.2": "5",
	} {
		if out := g.gvmOK("run", ref, "add", "2", "3"); out != want+"\n" {
			t.Errorf("gvm run %q add 2 3 printed %q, want %s", ref, out, want)
		}
	}
}

// Every error: one line, its exit status, the message names what is wrong,
// and nothing stays registered.
func TestGVMRunErrors(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1", "math_v2:math@v0.0.2", "trap@v1.0.0", "needsenv@v1.0.0")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"run", "math", "sub", "1", "2"}, 4, []string{`no function "sub"`, "add, mul"}},
		{[]string{"run", "math", "add", "1"}, 2, []string{"takes 2 argument(s)", "got 1"}},
		{[]string{"run", "math", "add", "1", "2", "3"}, 2, []string{"takes 2 argument(s)", "got 3"}},
		{[]string{"run", "math", "add", "1", "x"}, 2, []string{`"x" is not an i32`}},
		{[]string{"run", "math", "add", "1", "4294967296"}, 2, []string{"is not an i32"}},
		{[]string{"run", "trap", "boom"}, 1, []string{"boom trapped", "unreachable"}},
		{[]string{"run", "needsenv", "run"}, 2, []string{"env.log", "cannot provide"}},
		{[]string{"run", "nosuch", "add", "1", "2"}, 4, []string{"no module named nosuch"}},
		{[]string{"run", "math@v9.0.0", "add", "1", "2"}, 4, []string{"no version v9.0.0", "v0.0.2, v0.0.1"}},
		{[]string{"run", "math@^3", "add", "1", "2"}, 4, []string{"no version ^3", "v0.0.2, v0.0.1"}},
		{[]string{"run", "math@nonsense!", "add", "1", "2"}, 2, []string{"nonsense!"}},
		{[]string{"run", "math"}, 2, []string{"at least 2 arguments"}},
		{[]string{"run", "--gmp-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)), "math", "add", "1", "2"}, 3, []string{"gpmd is not running", "gpmd start"}},
		{[]string{"call", "nobody", "math.add", "1", "2"}, 4, []string{"no live node named nobody"}},
		{[]string{"call", "nobody", "mathadd"}, 2, []string{"MODULE.FUNCTION"}},
		{[]string{"serve"}, 2, []string{`"name" not set`}},
		{[]string{"bogus"}, 2, []string{`unknown command "bogus"`}},
		{[]string{"run", "--bogus", "math", "add"}, 2, []string{"unknown flag: --bogus"}},
	} {
		r := g.gvm(c.args...)
		if r.code != c.code {
			t.Errorf("gvm %v: exit %d, want %d\n%v", c.args, r.code, c.code, r)
			continue
		}
		line := oneLine(t, r)
		for _, w := range c.want {
			if !strings.Contains(line, w) {
				t.Errorf("gvm %v: %q lacks %q", c.args, line, w)
			}
		}
	}
	if live := g.liveNodes(); len(live) != 0 {
		t.Errorf("nodes left registered after the errors: %v", live)
	}
}

// A peer that is registered but refuses connections, and one that is gone;
// a run under a name that is live.
func TestGVMCallPeerRefusingOrGone(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, g.gmpAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "deaf", "deaf-1", freePort(t), true); err != nil {
		t.Fatal(err)
	}
	r := g.gvm("call", "deaf", "math.add", "1", "2")
	if r.code != 5 || !strings.Contains(oneLine(t, r), "refuses") {
		t.Errorf("call to a refusing node: %v", r)
	}
	r = g.gvm("run", "--name", "deaf", "math", "add", "1", "2")
	if r.code != 2 || !strings.Contains(oneLine(t, r), "the node name deaf is taken") {
		t.Errorf("run under a taken name: %v", r)
	}
	c.Close()
	waitNodeGone(t, g, "deaf")
	r = g.gvm("call", "deaf", "math.add", "1", "2")
	if r.code != 4 || !strings.Contains(oneLine(t, r), "no live node named deaf") {
		t.Errorf("call to a gone node: %v", r)
	}
}

func waitNodeGone(t *testing.T, g *gvmEnv, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for slices.Contains(g.nodes(), name) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still listed after 5s", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The second run of a module offers its digest (have) on the wire; GPMD
// lists "have" in WELCOME's features, and its reply carries no binary.
func TestGVMCacheSendsHave(t *testing.T) {
	g := newGVMEnv(t, "math@v0.0.1")
	digest := digestOfBytes(readExample(t, "math"))
	p := startWireProxy(t, g.gmpAddr)
	g.gmpAddr = p.addr()

	if out := g.gvmOK("run", "math", "add", "2", "3"); out != "5\n" {
		t.Fatalf("first run printed %q", out)
	}
	up, _ := p.messages()
	for _, conn := range up {
		for _, m := range conn {
			if ty, co := typeCode(m); ty == wire.TypeWasm && co == wire.CodeModuleRequest {
				if h, ok := bodyOf(m)["have"]; ok {
					t.Errorf("the first run, with an empty cache, sent have %v", h)
				}
			}
		}
	}
	nFirst := len(up)

	if out := g.gvmOK("run", "math", "add", "2", "3"); out != "5\n" {
		t.Fatalf("second run printed %q", out)
	}
	up, down := p.messages()
	var sentHave, advertised, gotBinary, sawModule bool
	for i := nFirst; i < len(up); i++ {
		for _, m := range down[i] {
			ty, co := typeCode(m)
			if ty == wire.TypeSession && co == wire.CodeWelcome {
				if f, ok := bodyOf(m)["features"].([]any); ok && slices.Contains(f, any("have")) {
					advertised = true
				}
			}
			if ty == wire.TypeWasm && co == wire.CodeModule {
				sawModule = true
				if _, ok := bodyOf(m)["binary"]; ok {
					gotBinary = true
				}
			}
		}
		for _, m := range up[i] {
			if ty, co := typeCode(m); ty == wire.TypeWasm && co == wire.CodeModuleRequest && bodyOf(m)["have"] == digest {
				sentHave = true
			}
		}
	}
	if !sentHave {
		t.Errorf("the second run sent no MODULE_REQUEST with have %s", digest)
	}
	if !sawModule {
		t.Errorf("the second run got no MODULE reply")
	}
	if !advertised {
		t.Errorf("GPMD does not list have in WELCOME's features")
	}
	if gotBinary {
		t.Errorf("GPMD sent the binary for a digest gvm holds")
	}
}

func digestOfBytes(b []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(b))
}
