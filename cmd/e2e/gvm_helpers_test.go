package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/examples/modules"
	"github.com/ghost-network/gpmd/gmp/client"
)

// gvmBuild builds the gvm binary once per test process, beside gpmdBin
// (whose folder TestMain removes at the end).
var gvmBuild = sync.OnceValues(func() (string, error) {
	p := filepath.Join(filepath.Dir(gpmdBin), "gvm")
	out, err := exec.Command("go", "build", "-o", p, "github.com/ghost-network/gpmd/cmd/gvm").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building gvm: %v\n%s", err, out)
	}
	return p, nil
})

func gvmBin(t testing.TB) string {
	t.Helper()
	p, err := gvmBuild()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gvmEnv is a running gpmd (on free loopback ports) and a gvm cache.
type gvmEnv struct {
	*env
	gmpAddr string
	cache   string
}

// newGVMEnv starts gpmd and uploads the given example modules, each as
// name@version pairs: "math@v0.0.1" uploads examples/modules/math.wasm.
func newGVMEnv(t testing.TB, uploads ...string) *gvmEnv {
	t.Helper()
	gvmBin(t)
	e := newEnv(t)
	st := e.start()
	g := &gvmEnv{env: e, gmpAddr: st.GMPAddr, cache: filepath.Join(t.TempDir(), "gvm-cache")}
	for _, u := range uploads {
		g.upload(u)
	}
	return g
}

// upload uploads an example: "math@v0.0.1" or "math_v2:math@v0.0.2" (file
// math_v2.wasm as math v0.0.2).
func (g *gvmEnv) upload(spec string) {
	g.t.Helper()
	file, ref, ok := strings.Cut(spec, ":")
	if !ok {
		ref = file
		file, _, _ = strings.Cut(ref, "@")
	}
	name, version, _ := strings.Cut(ref, "@")
	p := g.file(file+".wasm", modules.MustWasm(file))
	g.gpmd("wasm", "upload", "--name", name, "--version", version, "--file", p)
}

// gvmEnviron is the environment of a gvm process.
func (g *gvmEnv) gvmEnviron() []string {
	return append(g.environ(), "GPMD_GMP_ADDR="+g.gmpAddr, "GVM_CACHE="+g.cache)
}

// gvm runs gvm to its end.
func (g *gvmEnv) gvm(args ...string) result {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gvmBin(g.t), args...)
	cmd.Env = g.gvmEnviron()
	cmd.Dir = g.home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: append([]string{"(gvm)"}, args...), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			g.t.Fatalf("gvm %v: %v", args, err)
		}
		r.code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		g.t.Fatalf("gvm %v did not finish within %s", args, commandTimeout)
	}
	return r
}

// gvmOK runs gvm and fails unless it succeeds.
func (g *gvmEnv) gvmOK(args ...string) string {
	g.t.Helper()
	r := g.gvm(args...)
	if r.code != 0 {
		g.t.Fatalf("%v", r)
	}
	return r.stdout
}

// serving is a `gvm serve` process.
type serving struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serve starts `gvm serve --name name args...` and waits until it says it
// is registered. It is stopped (SIGTERM, then SIGKILL) when the test ends.
func (g *gvmEnv) serve(name string, args ...string) *serving {
	g.t.Helper()
	cmd := exec.Command(gvmBin(g.t), append([]string{"serve", "--name", name}, args...)...)
	cmd.Env = g.gvmEnviron()
	cmd.Dir = g.home
	s := &serving{t: g.t, name: name, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		g.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		ready <- line
		io.Copy(io.Discard, br)
		s.err = cmd.Wait()
		close(s.exited)
	}()
	g.t.Cleanup(s.stop)
	select {
	case line := <-ready:
		if !strings.Contains(line, "registered, serving on") {
			s.stop()
			g.t.Fatalf("gvm serve %s printed %q; stderr: %s", name, line, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		s.stop()
		g.t.Fatalf("gvm serve %s not ready within 30s; stderr: %s", name, s.stderr.String())
	}
	return s
}

// signal sends sig and waits (bounded) for the process to end; it returns
// the exit code.
func (s *serving) signal(sig syscall.Signal) int {
	s.t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		s.t.Fatalf("gvm serve %s did not end within 15s of %v", s.name, sig)
	}
	return s.cmd.ProcessState.ExitCode()
}

func (s *serving) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

// withGMP runs fn with a fresh GMP connection to the env's gpmd.
func (g *gvmEnv) withGMP(fn func(ctx context.Context, c *client.Client)) {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, g.gmpAddr, client.ClientOptions{})
	if err != nil {
		g.t.Fatal(err)
	}
	defer c.Close()
	fn(ctx, c)
}

// nodes is the live discoverable node names, asked over GMP.
func (g *gvmEnv) nodes() (names []string) {
	g.t.Helper()
	g.withGMP(func(ctx context.Context, c *client.Client) {
		var err error
		if names, err = c.Discover(ctx); err != nil {
			g.t.Fatal(err)
		}
	})
	return names
}

// liveNodes is `gpmd nodes -o json` as names: discoverable or not.
func (g *gvmEnv) liveNodes() []string {
	g.t.Helper()
	var list struct {
		Nodes []struct {
			Name string `json:"name"`
		} `json:"nodes"`
	}
	g.jsonOf(&list, "nodes", "-o", "json")
	var names []string
	for _, n := range list.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// wireProxy is a TCP proxy to GPMD that records every line each way, per
// connection.
type wireProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []*wireConn
	wg     sync.WaitGroup
}

// wireConn is what one connection carried.
type wireConn struct {
	up, down lockedBuffer // client → gpmd, gpmd → client
}

func startWireProxy(t *testing.T, target string) *wireProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{l: l, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *wireProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		wc := &wireConn{}
		p.mu.Lock()
		p.conns = append(p.conns, wc)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn, rec *lockedBuffer) {
			io.Copy(io.MultiWriter(dst, rec), src)
			dst.Close()
			src.Close()
		}
		p.wg.Go(func() { pipe(s, c, &wc.up) })
		p.wg.Go(func() { pipe(c, s, &wc.down) })
	}
}

// messages is every recorded message so far as decoded JSON objects, in
// order per connection: requests (up) and replies (down).
func (p *wireProxy) messages() (up, down [][]map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	decode := func(s string) []map[string]any {
		var out []map[string]any
		dec := json.NewDecoder(strings.NewReader(s))
		for {
			var m map[string]any
			if dec.Decode(&m) != nil {
				return out
			}
			out = append(out, m)
		}
	}
	for _, c := range p.conns {
		up = append(up, decode(c.up.String()))
		down = append(down, decode(c.down.String()))
	}
	return up, down
}

func (p *wireProxy) addr() string { return p.l.Addr().String() }

// typeCode is a message's (type, code).
func typeCode(m map[string]any) (int, int) {
	t, _ := m["type"].(float64)
	c, _ := m["code"].(float64)
	return int(t), int(c)
}

func bodyOf(m map[string]any) map[string]any {
	b, _ := m["body"].(map[string]any)
	return b
}

func readExample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "modules", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
