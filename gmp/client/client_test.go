package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

func dialClient(t testing.TB, addr string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	c, err := Dial(ctx, addr, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testCtx bounds a test's requests. The bound is there to end a hang, not
// to measure speed (the benchmarks do that): it is generous because the
// race detector on 2 shared cores makes a 16 MiB transfer take seconds.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientEveryMessage(t *testing.T) {
	r := newRepo(t)
	mod := testutil.Wasm("m", 100<<10)
	upload(t, r, "math", "v1.2.0", mod)
	ts := startServer(t, gmp.Config{Modules: r, ServerName: "gpmd/test"})
	ctx := testCtx(t)
	c, other := dialClient(t, ts.addr), dialClient(t, ts.addr)

	w, err := c.Hello(ctx, "gvm/test")
	if err != nil || !reflect.DeepEqual(w, wire.Welcome{Server: "gpmd/test", Version: 1, MaxMessage: gmp.DefaultMaxMessage, Features: []string{wire.FeatureHave}}) {
		t.Fatalf("Hello = %+v, %v", w, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	n, err := c.Register(ctx, "node-1", "a1", 40001, true)
	if err != nil || n != (wire.Node{Name: "node-1", ID: "a1", Address: "127.0.0.1", Port: 40001}) {
		t.Fatalf("Register = %+v, %v", n, err)
	}
	if _, err := other.Register(ctx, "hidden", "h", 2, false); err != nil {
		t.Fatalf("Register hidden: %v", err)
	}
	names, err := other.Discover(ctx)
	if err != nil || !slices.Equal(names, []string{"node-1"}) {
		t.Fatalf("Discover = %v, %v", names, err)
	}
	n, err = c.Connect(ctx, "hidden")
	if err != nil || n != (wire.Node{Name: "hidden", ID: "h", Address: "127.0.0.1", Port: 2}) {
		t.Fatalf("Connect = %+v, %v", n, err)
	}
	if _, err := c.Connect(ctx, "node-2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Connect to nobody: %v", err)
	}

	var buf bytes.Buffer
	info, err := c.Module(ctx, "math", "^1", &buf)
	if err != nil || !bytes.Equal(buf.Bytes(), mod) || info != (wire.ModuleInfo{Name: "math", Version: "v1.2.0", Hash: digestOf(mod), Size: int64(len(mod))}) {
		t.Fatalf("Module = %+v, %v (%d bytes)", info, err, buf.Len())
	}
	info, b, err := c.ModuleBytes(ctx, "tiny", "")
	if err != nil || !bytes.Equal(b, tinyWasm) || info.Hash != tinyDigest || info.Version != "v0.0.1" {
		t.Fatalf("ModuleBytes = %+v, %v", info, err)
	}
	if _, _, err := c.ModuleBytes(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ModuleBytes of nothing: %v", err)
	}
	list, err := c.List(ctx, "")
	if err != nil || len(list) != 2 || list[0].Name != "math" || list[1].Name != "tiny" ||
		list[0].Versions[0] != (wire.ModuleVersion{Version: "v1.2.0", Hash: digestOf(mod), Size: int64(len(mod))}) {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if list, err := c.List(ctx, "nope"); err != nil || len(list) != 0 {
		t.Fatalf("List nope = %+v, %v", list, err)
	}

	if err := c.Unregister(ctx); err != nil {
		t.Fatalf("Unregister: %v", err)
	}
	if names, _ := other.Discover(ctx); len(names) != 0 {
		t.Fatalf("Discover after Unregister = %v", names)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
}

func TestClientTypedErrors(t *testing.T) {
	ts := startServer(t, gmp.Config{Modules: newRepo(t)})
	ctx := testCtx(t)
	a, b := dialClient(t, ts.addr), dialClient(t, ts.addr)
	if _, err := a.Register(ctx, "taken", "x", 1, true); err != nil {
		t.Fatal(err)
	}
	var denied *DeniedError
	for _, tt := range []struct {
		c    *Client
		name string
		port int
		code string
	}{
		{b, "taken", 1, wire.ErrCodeNameTaken},
		{a, "other", 1, wire.ErrCodeAlreadyRegistered},
		{b, "ok", 0, wire.ErrCodeBadRequest},
		{b, "ok", 70000, wire.ErrCodeBadRequest},
		{b, "bad name", 1, wire.ErrCodeBadRequest},
	} {
		_, err := tt.c.Register(ctx, tt.name, "x", tt.port, true)
		if !errors.As(err, &denied) || denied.Code != tt.code || denied.Message == "" {
			t.Errorf("Register %s port %d: %v, want denied %s", tt.name, tt.port, err, tt.code)
		}
	}
	var perr *ProtocolError
	if _, _, err := b.ModuleBytes(ctx, "tiny", ">>=x"); !errors.As(err, &perr) || perr.Code != wire.ErrCodeBadRequest {
		t.Fatalf("bad constraint: %v", err)
	}
	if _, err := b.List(ctx, "Bad.Name"); !errors.As(err, &perr) || perr.Code != wire.ErrCodeBadRequest {
		t.Fatalf("bad LIST name: %v", err)
	}
	// NOT_FOUND and MODULE_NOT_FOUND are the errdefs class, wrapped with
	// the subject.
	if _, err := b.Connect(ctx, "nobody"); !errors.Is(err, errdefs.ErrNotFound) || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("CONNECT to no node: %v, want errdefs.ErrNotFound naming the node", err)
	}
	if _, _, err := b.ModuleBytes(ctx, "nosuch", ""); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("MODULE_REQUEST of no module: %v, want errdefs.ErrNotFound naming the module", err)
	}
	// The connection lives on after these errors.
	if err := b.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClientPipelined shares one client between goroutines: requests are
// pipelined and every reply reaches its caller.
func TestClientPipelined(t *testing.T) {
	r := newRepo(t)
	mid := testutil.Wasm("m", 200<<10)
	upload(t, r, "mid", "v1.0.0", mid)
	ts := startServer(t, gmp.Config{Modules: r})
	ctx := testCtx(t)
	c := dialClient(t, ts.addr)
	if _, err := c.Register(ctx, "self", "s", 7, true); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				var err error
				switch (g + i) % 5 {
				case 0:
					err = c.Ping(ctx)
				case 1:
					var names []string
					if names, err = c.Discover(ctx); err == nil && !slices.Equal(names, []string{"self"}) {
						err = fmt.Errorf("Discover = %v", names)
					}
				case 2:
					var n wire.Node
					if n, err = c.Connect(ctx, "self"); err == nil && n.Port != 7 {
						err = fmt.Errorf("Connect = %+v", n)
					}
				case 3:
					var b []byte
					if _, b, err = c.ModuleBytes(ctx, "mid", ""); err == nil && !bytes.Equal(b, mid) {
						err = errors.New("mid: wrong bytes")
					}
				case 4:
					var b []byte
					if _, b, err = c.ModuleBytes(ctx, "tiny", "v0.0.1"); err == nil && !bytes.Equal(b, tinyWasm) {
						err = errors.New("tiny: wrong bytes")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClientModuleStreams fetches a 16 MiB module into a hashing writer:
// client and server together allocate a small, fixed amount.
func TestClientModuleStreams(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("m", 16<<20)
	upload(t, r, "big", "v1.0.0", big)
	ts := startServer(t, gmp.Config{Modules: r})
	ctx := testCtx(t)
	c := dialClient(t, ts.addr)
	h := sha256.New()
	if _, err := c.Module(ctx, "big", "", h); err != nil { // warm up
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.Reset()
	info, err := c.Module(ctx, "big", "", h)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digestOf(big) || info.Size != int64(len(big)) {
		t.Fatalf("streamed %s, %d bytes", got, info.Size)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a 16 MiB module through server and client allocated %d bytes", alloc)
	if alloc > 2<<20 {
		t.Fatalf("allocated %d bytes for a 16 MiB module: not streamed", alloc)
	}
}

// writerFunc adapts a func to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestClientCancel(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("m", 4<<20)
	upload(t, r, "big", "v1.0.0", big)
	ts := startServer(t, gmp.Config{Modules: r})
	c := dialClient(t, ts.addr)

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Ping(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ping with a cancelled context: %v", err)
	}

	// Cancel from inside the writer, mid-stream: Module returns, and the
	// writer is never called after that.
	ctx, cancel := context.WithCancel(context.Background())
	var returned, lateWrites atomic.Bool
	var written atomic.Int64
	w := writerFunc(func(p []byte) (int, error) {
		if returned.Load() {
			lateWrites.Store(true)
		}
		if written.Add(int64(len(p))) > 1<<20 {
			cancel()
			time.Sleep(10 * time.Millisecond) // let the caller see it
		}
		return len(p), nil
	})
	_, err := c.Module(ctx, "big", "", w)
	returned.Store(true)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Module cancelled mid-stream: %v", err)
	}
	// The rest of the reply is drained; the connection goes on.
	ctx2 := testCtx(t)
	if err := c.Ping(ctx2); err != nil {
		t.Fatalf("Ping after a cancelled Module: %v", err)
	}
	if _, b, err := c.ModuleBytes(ctx2, "big", ""); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("Module after a cancelled one: %v", err)
	}
	if lateWrites.Load() {
		t.Fatal("the writer was called after Module returned")
	}
}

// TestClientCorruptModuleIsCut: when GPMD cuts a MODULE whose bytes fail
// verification, the client reports the connection's end, not a module.
func TestClientCorruptModuleIsCut(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("m", 1<<20)
	upload(t, r, "big", "v1.0.0", big)
	corruptBlob(t, r, big, 1)
	ts := startServer(t, gmp.Config{Modules: r})
	c := dialClient(t, ts.addr)
	_, b, err := c.ModuleBytes(testCtx(t), "big", "")
	if !errors.Is(err, ErrClosed) || b != nil {
		t.Fatalf("corrupt module: %v, %d bytes", err, len(b))
	}
}

// TestClientDisconnectLeaves: a node whose client closes is gone from
// another node's DISCOVER at once.
func TestClientDisconnectLeaves(t *testing.T) {
	ts := startServer(t, gmp.Config{})
	ctx := testCtx(t)
	watcher := dialClient(t, ts.addr)
	for i := 0; i < 20; i++ {
		c := dialClient(t, ts.addr)
		if _, err := c.Register(ctx, "leaver", "x", 1, true); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		c.Close()
		waitFor(t, "the node to leave", func() bool {
			names, err := watcher.Discover(ctx)
			return err == nil && len(names) == 0
		})
	}
}

// TestThousandNodes: 1,000 nodes register, discover and connect at once.
func TestThousandNodes(t *testing.T) {
	const n = 1000
	ts := startServer(t, gmp.Config{})
	// A bound, not a speed check: under -race, beside the other packages'
	// tests on 2 cores, a million names of DISCOVER replies take a while.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	clients := make([]*Client, n)
	var registered, checked sync.WaitGroup
	registered.Add(n)
	checked.Add(n)
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			defer checked.Done()
			fail := func(err error) {
				errs <- fmt.Errorf("node %d: %w", i, err)
			}
			c, err := Dial(ctx, ts.addr, ClientOptions{})
			if err != nil {
				registered.Done()
				fail(err)
				return
			}
			clients[i] = c
			name := fmt.Sprintf("node-%04d", i)
			_, err = c.Register(ctx, name, fmt.Sprint(i), 10000+i, true)
			registered.Done()
			if err != nil {
				fail(err)
				return
			}
			// Before everyone has registered: the asker is included.
			names, err := c.Discover(ctx)
			if err != nil || !slices.Contains(names, name) || !slices.IsSorted(names) {
				fail(fmt.Errorf("early Discover: %v (%d names)", err, len(names)))
				return
			}
			registered.Wait()
			names, err = c.Discover(ctx)
			if err != nil || len(names) != n || !slices.IsSorted(names) {
				fail(fmt.Errorf("Discover: %v (%d names)", err, len(names)))
				return
			}
			peer := (i + 1) % n
			node, err := c.Connect(ctx, fmt.Sprintf("node-%04d", peer))
			if err != nil || node.Port != 10000+peer || node.ID != fmt.Sprint(peer) || node.Address != "127.0.0.1" {
				fail(fmt.Errorf("Connect: %+v, %v", node, err))
			}
		}()
	}
	checked.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(ts.Nodes()); got != n {
		t.Errorf("Nodes() = %d", got)
	}
	for _, c := range clients {
		if c != nil {
			c.Close()
		}
	}
	waitFor(t, "every node to leave", func() bool { return len(ts.Nodes()) == 0 && ts.ConnCount() == 0 })
}

// scriptedPeer is a GMP peer over real TCP that answers each request line
// with the next canned reply, its "%ID%" replaced by the request's id.
func scriptedPeer(t *testing.T, greeting string, replies ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioTimeout))
		if greeting != "" {
			io.WriteString(nc, greeting)
		}
		br := bufio.NewReader(nc)
		for _, rep := range replies {
			line, err := br.ReadBytes('\n')
			if err != nil {
				return
			}
			var req struct{ ID json.RawMessage }
			json.Unmarshal(line, &req)
			io.WriteString(nc, strings.ReplaceAll(rep, "%ID%", string(req.ID)))
		}
		io.Copy(io.Discard, br)
	}()
	return l.Addr().String()
}

// TestClientChecksReplies: the client's side of the contract against a
// hand-written peer: hash and size verified, field order free, escapes in
// the base64, ids matched, ERRORs without id, broken replies.
func TestClientChecksReplies(t *testing.T) {
	good := `"name":"tiny","version":"v0.0.1","hash":"` + tinyDigest + `","size":8`
	ctx := testCtx(t)
	t.Run("wrong hash", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":2,"code":2,"id":%ID%,"body":{"name":"tiny","version":"v0.0.1","hash":"sha256:`+strings.Repeat("0", 64)+`","size":8,"binary":"AGFzbQEAAAA="}}`+"\n")
		_, _, err := dialClient(t, addr).ModuleBytes(ctx, "tiny", "")
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong size", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":2,"code":2,"id":%ID%,"body":{"name":"tiny","version":"v0.0.1","hash":"`+tinyDigest+`","size":9,"binary":"AGFzbQEAAAA="}}`+"\n")
		_, _, err := dialClient(t, addr).ModuleBytes(ctx, "tiny", "")
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong bytes", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":2,"code":2,"id":%ID%,"body":{`+good+`,"binary":"AGFzbQEAAAE="}}`+"\n")
		_, _, err := dialClient(t, addr).ModuleBytes(ctx, "tiny", "")
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("field order and escapes", func(t *testing.T) {
		addr := scriptedPeer(t, "",
			`{"body":{"binary":"AGFzbQ\u0045AAAA=","extra":{"x":[1,"}"]},`+good+`},"id":%ID%,"code":2,"type":2}`+"\n",
			` {"body" : {"binary" : "AGFzbQEAAAA\u003d" , `+good+`} , "type":2 , "code":2 , "id":%ID%}`+"\r\n",
			`{"type":2,"code":2,"id":%ID%,"body":{"name":"ff","version":"1.0.0","hash":"`+digestOf([]byte{0xff, 0xff, 0xfe})+`","size":3,"binary":"\/\/\/+"}}`,
		)
		c := dialClient(t, addr)
		for i := 0; i < 2; i++ {
			if _, b, err := c.ModuleBytes(ctx, "tiny", ""); err != nil || !bytes.Equal(b, tinyWasm) {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
		// "\/" is an escaped "/", a base64 character.
		if _, b, err := c.ModuleBytes(ctx, "ff", ""); err != nil || !bytes.Equal(b, []byte{0xff, 0xff, 0xfe}) {
			t.Fatalf("third reply: %x, %v", b, err)
		}
	})
	t.Run("bad base64", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":2,"code":2,"id":%ID%,"body":{`+good+`,"binary":"AG!zbQEAAAA="}}`+"\n")
		if _, _, err := dialClient(t, addr).ModuleBytes(ctx, "tiny", ""); err == nil {
			t.Fatal("bad base64 accepted")
		}
	})
	t.Run("wrong id", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":0,"code":4,"id":999,"body":{}}`+"\n")
		c := dialClient(t, addr)
		if err := c.Ping(ctx); !errors.Is(err, ErrBadReply) {
			t.Fatalf("got %v", err)
		}
		if err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("after a broken reply: %v", err)
		}
	})
	t.Run("wrong kind", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":1,"code":6,"id":%ID%,"body":{"nodes":[]}}`+"\n")
		if err := dialClient(t, addr).Ping(ctx); !errors.Is(err, ErrBadReply) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		addr := scriptedPeer(t, "", "hello\n")
		if err := dialClient(t, addr).Ping(ctx); !errors.Is(err, ErrBadReply) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ERROR without id", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":0,"code":9,"body":{"error":"bad_json","message":"m"}}`+"\n")
		var perr *ProtocolError
		if err := dialClient(t, addr).Ping(ctx); !errors.As(err, &perr) || perr.Code != wire.ErrCodeBadJSON {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("busy on connect", func(t *testing.T) {
		ts := startServer(t, gmp.Config{MaxConns: 1})
		dialClient(t, ts.addr).Ping(ctx)
		c := dialClient(t, ts.addr)
		<-c.Done()
		var perr *ProtocolError
		if err := c.Ping(ctx); !errors.As(err, &perr) || perr.Code != wire.ErrCodeBusy || !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("reply too large", func(t *testing.T) {
		addr := scriptedPeer(t, "", `{"type":1,"code":6,"id":%ID%,"body":{"nodes":["`+strings.Repeat("n", 2000)+`"]}}`+"\n")
		c, err := Dial(ctx, addr, ClientOptions{MaxReply: 1000})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Discover(ctx); !errors.Is(err, ErrReplyTooLarge) {
			t.Fatalf("got %v", err)
		}
	})
}
