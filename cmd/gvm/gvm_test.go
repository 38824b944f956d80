package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/examples/modules"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

func TestCacheRoundTripAndDamage(t *testing.T) {
	c := &moduleCache{dir: t.TempDir()}
	wasm := modules.MustWasm("math")
	h := digestOf(wasm)
	if _, ok := c.get(h); ok {
		t.Fatal("hit in an empty cache")
	}
	if err := c.put(wasm); err != nil {
		t.Fatal(err)
	}
	if b, ok := c.get(h); !ok || string(b) != string(wasm) {
		t.Fatal("miss after put")
	}
	// A damaged file is a miss, and goes.
	p, _ := c.blobPath(h)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("damaged"), 0o644)
	if _, ok := c.get(h); ok {
		t.Fatal("damaged blob served")
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("damaged blob left: %v", err)
	}
	for _, bad := range []string{"", "sha256:", "sha256:../../etc/passwd", "md5:" + strings.Repeat("0", 64), "sha256:" + strings.Repeat("A", 64)} {
		if _, ok := c.blobPath(bad); ok {
			t.Errorf("blobPath(%q) accepted", bad)
		}
	}
	// Refs: constraints with any characters stay one file under refs/.
	for _, v := range []string{"", "v1.0.0", ">=1.0.0 <2.0.0", "../../x", "^1.2"} {
		if err := c.setRef("math", v, h); err != nil {
			t.Fatal(err)
		}
		if got := c.ref("math", v); got != h {
			t.Errorf("ref %q = %q", v, got)
		}
		if filepath.Dir(c.refPath("math", v)) != filepath.Join(c.dir, "refs") {
			t.Errorf("ref %q escapes refs/: %s", v, c.refPath("math", v))
		}
	}
}

// fakeGPMD answers each MODULE_REQUEST with reply(body) on real TCP and
// records the requests.
type fakeGPMD struct {
	l     net.Listener
	mu    sync.Mutex
	reqs  []map[string]any
	reply func(req map[string]any) string
}

func startFake(t *testing.T, reply func(req map[string]any) string) *fakeGPMD {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeGPMD{l: l, reply: reply}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer nc.Close()
				sc := bufio.NewScanner(nc)
				for sc.Scan() {
					var m map[string]any
					json.Unmarshal(sc.Bytes(), &m)
					f.mu.Lock()
					f.reqs = append(f.reqs, m)
					f.mu.Unlock()
					fmt.Fprintln(nc, f.reply(m))
				}
			})
		}
	})
	t.Cleanup(func() { l.Close(); wg.Wait() })
	return f
}

func moduleReply(wasm []byte, version string, withBinary bool) string {
	b := map[string]any{"name": "math", "version": version, "hash": digestOf(wasm), "size": len(wasm)}
	if withBinary {
		b["binary"] = base64.StdEncoding.EncodeToString(wasm)
	}
	out, _ := json.Marshal(map[string]any{"type": 2, "code": 2, "id": 1, "body": b})
	return string(out)
}

// fetchFrom fetches with have from a fake GPMD over the GMP client.
func fetchFrom(t *testing.T, f *fakeGPMD, version, have string) (wire.ModuleInfo, []byte, error) {
	t.Helper()
	c, err := client.Dial(context.Background(), f.l.Addr().String(), client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return gmpSource{c: c}.FetchModule(context.Background(), "math", version, have)
}

// A GPMD that honours have sends no binary; gvm then runs the cached
// bytes. One that ignores it sends the binary, which is checked.
func TestHaveRequest(t *testing.T) {
	wasm := modules.MustWasm("math")
	h := digestOf(wasm)
	ctx := context.Background()

	honours := startFake(t, func(req map[string]any) string {
		body := req["body"].(map[string]any)
		return moduleReply(wasm, "v0.0.1", body["have"] != h)
	})
	info, b, err := fetchFrom(t, honours, "", h)
	if err != nil || b != nil || info.Hash != h {
		t.Fatalf("matching have: %v %v %v", info, b, err)
	}
	if got := honours.reqs[0]["body"].(map[string]any)["have"]; got != h {
		t.Errorf("request carried have %v", got)
	}

	// The fetcher uses the cache on a reply without binary.
	cache := &moduleCache{dir: t.TempDir()}
	cache.put(wasm)
	cache.setRef("math", "", h)
	c, err := client.Dial(ctx, honours.l.Addr().String(), client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := &fetcher{src: gmpSource{c: c}, cache: cache}
	if _, got, err := f.fetch(ctx, "math", ""); err != nil || string(got) != string(wasm) {
		t.Fatalf("fetch from cache: %v", err)
	}

	ignores := startFake(t, func(map[string]any) string { return moduleReply(wasm, "v0.0.1", true) })
	if _, b, err := fetchFrom(t, ignores, "", h); err != nil || string(b) != string(wasm) {
		t.Fatalf("ignored have: %v", err)
	}

	liar := startFake(t, func(map[string]any) string {
		r := moduleReply(wasm, "v0.0.1", true)
		return strings.Replace(r, digestOf(wasm), digestOf([]byte("other")), 1)
	})
	if _, _, err := fetchFrom(t, liar, "", h); !errors.Is(err, client.ErrHashMismatch) {
		t.Errorf("bytes that do not match: %v", err)
	}
	// No binary for a digest we did not offer is a broken reply.
	noBinary := startFake(t, func(map[string]any) string { return moduleReply(wasm, "v0.0.1", false) })
	if _, _, err := fetchFrom(t, noBinary, "", digestOf([]byte("x"))); !errors.Is(err, client.ErrBadReply) {
		t.Errorf("no binary for another digest: %v", err)
	}

	notFound := startFake(t, func(map[string]any) string {
		return `{"type":2,"code":3,"id":1,"body":{"error":"not_found","message":"no math"}}`
	})
	if _, _, err := fetchFrom(t, notFound, "", h); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("not found: %v", err)
	}
	bad := startFake(t, func(map[string]any) string {
		return `{"type":0,"code":9,"id":1,"body":{"error":"bad_request","message":"bad version"}}`
	})
	var pe *client.ProtocolError
	if _, _, err := fetchFrom(t, bad, "!", h); !errors.As(err, &pe) || pe.Code != "bad_request" {
		t.Errorf("ERROR: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil:                                      exitOK,
		&usageError{"x"}:                         exitUsage,
		&notRunningError{"a"}:                    exitNotRunning,
		&peerError{errors.New("gone")}:           exitPeer,
		context.Canceled:                         exitInterrupted,
		fmt.Errorf("x: %w", errdefs.ErrNotFound): exitNotFound,
		fmt.Errorf("x: %w", errdefs.ErrInvalid):  exitUsage,
		errors.New("trap"):                       exitError,
	} {
		if got := exitCode(err); got != want {
			t.Errorf("exitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestLatestOf(t *testing.T) {
	e := wire.ModuleEntry{Name: "m", Versions: []wire.ModuleVersion{{Version: "v2.0.0-rc.1"}, {Version: "v1.5.0"}, {Version: "v1.0.0"}}}
	if v, ok := latestOf(e); !ok || v.Version != "v1.5.0" {
		t.Errorf("latest %v", v)
	}
	e.Versions = e.Versions[:1]
	if v, ok := latestOf(e); !ok || v.Version != "v2.0.0-rc.1" {
		t.Errorf("pre-releases only: %v", v)
	}
	if _, ok := latestOf(wire.ModuleEntry{}); ok {
		t.Error("latest of nothing")
	}
}
