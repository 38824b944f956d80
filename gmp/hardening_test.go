package gmp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestReRegisterRightAfterClose is issue 16 point 13: a node that closes
// its connection and at once registers the same name on a new one gets
// the name, every time, although the server may not have read the old
// connection's end yet.
func TestReRegisterRightAfterClose(t *testing.T) {
	ts := startServer(t, Config{})
	const rounds = 500
	prev := dialRaw(t, ts.addr)
	registerRaw(t, prev, "again", 1, "")
	taken := 0
	for i := range rounds {
		prev.c.Close()
		next := dialRaw(t, ts.addr)
		m := next.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"again","id":"a","port":1}}`)
		if m["code"] == float64(wire.CodeRegisterDenied) {
			taken++
			t.Logf("round %d: %v", i, m)
			// Let the old registration end before the next round.
			waitFor(t, "the old registration to end", func() bool { return len(ts.Nodes()) == 0 })
			registerRaw(t, next, "again", 1, "")
		} else {
			expectKind(t, m, wire.TypeNode, wire.CodeRegistered, 1.0)
		}
		prev = next
	}
	if taken != 0 {
		t.Fatalf("name_taken %d times in %d re-registrations right after close", taken, rounds)
	}
	// A holder whose peer is still there keeps its name.
	other := dialRaw(t, ts.addr)
	b := expectKind(t, other.roundTrip(`{"type":1,"code":1,"id":2,"body":{"name":"again","id":"b","port":2}}`), wire.TypeNode, wire.CodeRegisterDenied, 2.0)
	if b["error"] != wire.ErrCodeNameTaken {
		t.Fatalf("REGISTER of a live name: %v", b)
	}
}

// TestDuplicateKeysLastCounts is issue 16 point 14: of duplicate keys the
// last counts, whatever the earlier ones held, and null is absent, in the
// envelope and in every body.
func TestDuplicateKeysLastCounts(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	c := dialRaw(t, ts.addr)

	denied := []string{
		`{"name":"x","name":null,"id":"i","port":1}`,
		`{"name":"x","id":"i","id":null,"port":1}`,
		`{"name":"x","id":"i","port":1,"port":null}`,
		`{"name":"x","id":"i","port":1,"port":"1"}`,
		`{"name":"x","id":"i","port":1,"discoverable":true,"discoverable":"yes"}`,
		`{"name":"x","na\u006de":null,"id":"i","port":1}`,
	}
	for i, body := range denied {
		b := expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":1,"code":1,"id":%d,"body":%s}`, i, body)), wire.TypeNode, wire.CodeRegisterDenied, float64(i))
		if b["error"] != wire.ErrCodeBadRequest {
			t.Errorf("REGISTER %s: %v, want bad_request", body, b)
		}
	}
	if n := ts.Nodes(); len(n) != 0 {
		t.Fatalf("denied REGISTERs left nodes: %v", n)
	}

	// An earlier bad value is overridden by a later good one.
	b := expectKind(t, c.roundTrip(`{"type":1,"code":1,"id":"ok","body":{"name":5,"name":"x","id":"i","port":"p","port":7,"discoverable":"no","discoverable":null}}`),
		wire.TypeNode, wire.CodeRegistered, "ok")
	if b["name"] != "x" || b["port"] != 7.0 {
		t.Fatalf("REGISTERED %v", b)
	}
	if n := ts.Nodes(); len(n) != 1 || !n[0].Discoverable {
		t.Fatalf("nodes %+v: discoverable null must mean the default, true", n)
	}

	// CONNECT, MODULE_REQUEST and LIST read their fields the same way.
	expectError(t, c.roundTrip(`{"type":1,"code":7,"id":"c","body":{"name":"x","name":null}}`), wire.ErrCodeBadRequest, "c")
	expectKind(t, c.roundTrip(`{"type":1,"code":7,"id":"c2","body":{"name":1,"name":"x"}}`), wire.TypeNode, wire.CodeNode, "c2")
	expectError(t, c.roundTrip(`{"type":2,"code":1,"id":"m","body":{"name":"tiny","name":null}}`), wire.ErrCodeBadRequest, "m")
	m := expectKind(t, c.roundTrip(`{"type":2,"code":1,"id":"m2","body":{"name":"tiny","version":"v9","version":null}}`), wire.TypeWasm, wire.CodeModule, "m2")
	if m["version"] != "v0.0.1" {
		t.Fatalf("MODULE with version null: %v", m)
	}
	l := expectKind(t, c.roundTrip(`{"type":2,"code":4,"id":"l","body":{"name":"nosuch","name":null}}`), wire.TypeWasm, wire.CodeModules, "l")
	if mods, _ := l["modules"].([]any); len(mods) != 1 {
		t.Fatalf("LIST with name null lists every module: %v", l)
	}
	// HELLO: versions null is absent (no version offered), client null too.
	expectError(t, c.roundTrip(`{"type":0,"code":1,"id":"h","body":{"versions":[1],"versions":null}}`), wire.ErrCodeUnsupportedVersion, "h")
	c = dialRaw(t, ts.addr)
	expectKind(t, c.roundTrip(`{"type":0,"code":1,"id":"h2","body":{"client":5,"client":null,"versions":"1","versions":[1]}}`), wire.TypeSession, wire.CodeWelcome, "h2")

	// The envelope: the last type, code, id and body count.
	expectKind(t, c.roundTrip(`{"type":7,"type":0,"code":1,"code":3,"id":"a","id":"b"}`), wire.TypeSession, wire.CodePong, "b")
	expectError(t, c.roundTrip(`{"type":0,"type":null,"code":3,"id":"t"}`), wire.ErrCodeBadRequest, "t")
	r := c.roundTrip(`{"type":0,"code":3,"id":"x","id":null}`)
	if _, has := r["id"]; has {
		t.Fatalf("id null must be absent in the reply: %v", r)
	}
	expectError(t, c.roundTrip(`{"type":1,"code":7,"id":"b","body":{"name":"x"},"body":null}`), wire.ErrCodeBadRequest, "b")
}

// TestInvalidUTF8IDIsRefused is issue 16 point 19: an id that is a string
// of invalid UTF-8 gets bad_request, and every reply is valid JSON text.
func TestInvalidUTF8IDIsRefused(t *testing.T) {
	ts := startServer(t, Config{})
	c := dialRaw(t, ts.addr)
	for _, id := range []string{"\xff", "a\xc3", "\xed\xa0\x80", "ok\xf4\x90\x80\x80"} {
		c.send(`{"type":0,"code":3,"id":"` + id + `"}` + "\n")
		line := c.line()
		if !utf8.Valid(line) || !json.Valid(line) {
			t.Fatalf("id %q: the reply is not valid JSON text: %q", id, line)
		}
		var m map[string]any
		json.Unmarshal(line, &m)
		expectError(t, m, wire.ErrCodeBadRequest, nil)
		if _, has := m["id"]; has {
			t.Fatalf("id %q: the reply echoes an id: %q", id, line)
		}
	}
	// The connection stays usable, and valid UTF-8 ids are echoed.
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":"é\u00e9"}`), wire.TypeSession, wire.CodePong, "éé")
}

// TestReplyDeadlineCutsTrickleReader is issue 16 point 15: a peer that
// reads a large MODULE reply steadily but slowly, never stalling one write
// for the write timeout, is cut at the whole reply's deadline, and the
// reply's buffers are given back.
func TestReplyDeadlineCutsTrickleReader(t *testing.T) {
	r := newRepo(t)
	upload(t, r, "big", "v1.0.0", testutil.Wasm("m", 16<<20))
	const replyTimeout = 500 * time.Millisecond
	ts := startServer(t, Config{Modules: r, WriteTimeout: 10 * time.Second, ReplyTimeout: replyTimeout})
	c := dialRaw(t, ts.addr)
	c.c.(*net.TCPConn).SetReadBuffer(4096)
	start := time.Now()
	c.send(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")
	// Read 4 KiB every 10 ms, at most: the 22 MB reply would take minutes.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for time.Since(start) < 20*time.Second {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			c.c.SetReadDeadline(time.Now().Add(ioTimeout))
			if _, err := c.c.Read(buf); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-done }()
	// The server ends the connection at the reply's deadline (the kernel
	// may still deliver what its send buffer holds; that is not the
	// server's memory).
	// (ConnCount alone is 0 too before the server has accepted the
	// connection, which a loaded machine can delay: the log says it was
	// cut for the reply's deadline.)
	testutil.WaitFor(t, replyTimeout+10*time.Second, "the trickle reader to be cut", func() bool {
		return ts.ConnCount() == 0 && strings.Contains(ts.log.String(), `reason="reply timeout"`)
	})
	if took := time.Since(start); took < replyTimeout {
		t.Fatalf("cut after %v, before the reply deadline %v", took, replyTimeout)
	} else {
		t.Logf("cut after %v (reply deadline %v, write timeout 10s)", took, replyTimeout)
	}
	ts.log.waitLog(t, `reason="reply timeout"`)
	if n := ts.moduleReplies.Load(); n != 0 {
		t.Fatalf("%d MODULE replies still hold buffers", n)
	}
}

// TestBurstOfStalledRepliesReturnsMemory: many peers that never read a
// MODULE reply hold at most the reply deadline; when the last is cut, the
// buffers beyond the free list are released and memory is handed back.
func TestBurstOfStalledRepliesReturnsMemory(t *testing.T) {
	r := newRepo(t)
	upload(t, r, "mid", "v1.0.0", testutil.Wasm("m", 16<<20))
	ts := startServer(t, Config{Modules: r, ReplyTimeout: 5 * time.Second})
	const peers = 3 * moduleBufsKept
	for range peers {
		c := dialRaw(t, ts.addr)
		c.c.(*net.TCPConn).SetReadBuffer(4096)
		c.send(`{"type":2,"code":1,"id":1,"body":{"name":"mid"}}` + "\n")
	}

	testutil.WaitFor(t, 10*time.Second, "the burst to begin", func() bool { return ts.modulePeak.Load() > moduleBufsKept || ts.lastRelease.Load() != 0 })
	testutil.WaitFor(t, 20*time.Second, "every stalled reply to be cut", func() bool { return ts.ConnCount() == 0 })
	waitFor(t, "the memory to be handed back", func() bool { return ts.lastRelease.Load() != 0 })
	if n, kept := ts.moduleReplies.Load(), len(ts.freeBufs); n != 0 || kept > moduleBufsKept {
		t.Fatalf("after the burst: %d replies hold buffers, %d pairs kept (at most %d)", n, kept, moduleBufsKept)
	}
}

// TestRejectionsAreBounded is issue 16 point 16: at the connection cap, at
// most MaxRejecting connections are told busy at a time; the rest of a
// flood is closed at once, costing no goroutine.
func TestRejectionsAreBounded(t *testing.T) {
	const maxRejecting = 4
	ts := startServer(t, Config{MaxConns: 1, MaxRejecting: maxRejecting})
	holder := dialRaw(t, ts.addr)
	expectKind(t, holder.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)

	before := runtime.NumGoroutine()
	const flood = 200
	var flooders []*rawConn
	for range flood {
		flooders = append(flooders, dialRaw(t, ts.addr)) // they never send, never close
	}
	// Every flood connection is answered (busy) or closed, at once.
	busy, closed := 0, 0
	for _, c := range flooders {
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		b, err := c.br.ReadBytes('\n')
		switch {
		case err == nil && bytes.Contains(b, []byte(`"busy"`)):
			busy++
		case err != nil && isEOF(err):
			closed++
		default:
			t.Fatalf("a flood connection got %q, %v", b, err)
		}
	}
	if n := ts.rejecting.Load(); n > maxRejecting {
		t.Fatalf("%d rejections in flight, cap %d", n, maxRejecting)
	}
	if g := runtime.NumGoroutine() - before; g > maxRejecting+5 {
		t.Fatalf("%d goroutines more during a flood of %d, cap %d rejections", g, flood, maxRejecting)
	}
	if busy < 1 || busy+closed != flood {
		t.Fatalf("%d told busy, %d closed, of %d", busy, closed, flood)
	}
	t.Logf("%d of %d told busy, %d closed at once", busy, flood, closed)
	// The holder is still served.
	expectKind(t, holder.roundTrip(`{"type":0,"code":3,"id":2}`), wire.TypeSession, wire.CodePong, 2.0)
}

// TestErrorCodeOf: every errdefs class maps to a GMP code, wrapped or not,
// in the one function that does it.
func TestErrorCodeOf(t *testing.T) {
	if c := errorCodeOf(nil); c != "" {
		t.Fatalf("nil maps to %q", c)
	}
	for _, class := range errdefs.Classes() {
		want := wire.ErrCodeInternal
		switch class {
		case errdefs.ErrNotFound:
			want = wire.ErrCodeNotFound
		case errdefs.ErrInvalid:
			want = wire.ErrCodeBadRequest
		}
		if got := errorCodeOf(fmt.Errorf("module m@v1: %w", class)); got != want {
			t.Errorf("%v maps to %q, want %q", class, got, want)
		}
	}
	if got := errorCodeOf(errors.New("disk on fire")); got != wire.ErrCodeInternal {
		t.Errorf("an unclassed error maps to %q", got)
	}
}
