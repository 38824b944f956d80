package gmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

func TestSession(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t), ServerName: "gpmd/test"})
	c := dialRaw(t, ts.addr)

	b := expectKind(t, c.roundTrip(`{"type":0,"code":1,"id":"h","body":{"client":"gvm/0.4.1","versions":[1]}}`), wire.TypeSession, wire.CodeWelcome, "h")
	if b["server"] != "gpmd/test" || b["version"] != 1.0 || b["max_message"] != float64(DefaultMaxMessage) {
		t.Fatalf("WELCOME body %v", b)
	}
	// HELLO may offer more versions, and may come again.
	expectKind(t, c.roundTrip(`{"type":0,"code":1,"id":2,"body":{"versions":[3,2,1]}}`), wire.TypeSession, wire.CodeWelcome, 2.0)
	// PING with no body, with a body, without id.
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":3}`), wire.TypeSession, wire.CodePong, 3.0)
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":4,"body":{}}`), wire.TypeSession, wire.CodePong, 4.0)
	expectKind(t, c.roundTrip(`{"type":0,"code":3}`), wire.TypeSession, wire.CodePong, nil)
	// Unknown messages, and replies sent to GPMD, are unknown_message; the
	// connection goes on.
	expectError(t, c.roundTrip(`{"type":0,"code":77,"id":5}`), wire.ErrCodeUnknownMessage, 5.0)
	expectError(t, c.roundTrip(`{"type":9,"code":1,"id":6}`), wire.ErrCodeUnknownMessage, 6.0)
	expectError(t, c.roundTrip(`{"type":0,"code":2,"id":7,"body":{}}`), wire.ErrCodeUnknownMessage, 7.0)
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":8}`), wire.TypeSession, wire.CodePong, 8.0)
	// Unknown fields are ignored.
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":9,"extra":{"deep":[1,2]},"ts":1.5}`), wire.TypeSession, wire.CodePong, 9.0)
	// A large string id is copied verbatim, escapes and all.
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":"a\"b\u00e9"}`), wire.TypeSession, wire.CodePong, "a\"bé")
}

func TestHelloUnsupportedVersion(t *testing.T) {
	ts := startServer(t, Config{})
	for _, body := range []string{`{"versions":[2]}`, `{"versions":[]}`, `{"client":"x"}`, `{}`} {
		c := dialRaw(t, ts.addr)
		expectError(t, c.roundTrip(`{"type":0,"code":1,"id":1,"body":`+body+`}`), wire.ErrCodeUnsupportedVersion, 1.0)
		c.expectEOF()
	}
	// A HELLO of the wrong shape is a bad request, and the connection lives.
	for _, body := range []string{`{"versions":"1"}`, `{"versions":[1.5]}`, `{"versions":{}}`, `{"client":5,"versions":[1]}`} {
		c := dialRaw(t, ts.addr)
		expectError(t, c.roundTrip(`{"type":0,"code":1,"id":1,"body":`+body+`}`), wire.ErrCodeBadRequest, 1.0)
		expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":2}`), wire.TypeSession, wire.CodePong, 2.0)
	}
}

// register registers a node over a raw connection and checks REGISTERED.
func registerRaw(t testing.TB, c *rawConn, name string, port int, extra string) {
	t.Helper()
	req := fmt.Sprintf(`{"type":1,"code":1,"id":%q,"body":{"name":%q,"id":"id-%s","port":%d%s}}`, "r-"+name, name, name, port, extra)
	b := expectKind(t, c.roundTrip(req), wire.TypeNode, wire.CodeRegistered, "r-"+name)
	if b["name"] != name || b["id"] != "id-"+name || b["port"] != float64(port) || b["address"] != "127.0.0.1" {
		t.Fatalf("REGISTERED body %v", b)
	}
}

func discoverRaw(t testing.TB, c *rawConn) []string {
	t.Helper()
	b := expectKind(t, c.roundTrip(`{"type":1,"code":5,"id":"d"}`), wire.TypeNode, wire.CodeNodes, "d")
	var names []string
	for _, n := range b["nodes"].([]any) {
		names = append(names, n.(string))
	}
	return names
}

func TestRegistry(t *testing.T) {
	ts := startServer(t, Config{})
	a, b, c := dialRaw(t, ts.addr), dialRaw(t, ts.addr), dialRaw(t, ts.addr)

	// DISCOVER and CONNECT need no registration.
	if got := discoverRaw(t, c); len(got) != 0 {
		t.Fatalf("NODES of an empty registry: %v", got)
	}
	registerRaw(t, a, "node-b", 2000, "")
	registerRaw(t, b, "node-a", 1000, `,"discoverable":true`)
	registerRaw(t, c, "hidden", 3000, `,"discoverable":false`)

	// Sorted, discoverable only, the asker included.
	if got := strings.Join(discoverRaw(t, a), ","); got != "node-a,node-b" {
		t.Fatalf("NODES = %s", got)
	}
	// CONNECT finds a hidden node by name.
	n := expectKind(t, a.roundTrip(`{"type":1,"code":7,"id":1,"body":{"name":"hidden"}}`), wire.TypeNode, wire.CodeNode, 1.0)
	if n["name"] != "hidden" || n["id"] != "id-hidden" || n["address"] != "127.0.0.1" || n["port"] != 3000.0 {
		t.Fatalf("NODE body %v", n)
	}
	nf := expectKind(t, a.roundTrip(`{"type":1,"code":7,"id":2,"body":{"name":"nobody"}}`), wire.TypeNode, wire.CodeNotFound, 2.0)
	if nf["error"] != "not_found" || nf["message"] == "" {
		t.Fatalf("NOT_FOUND body %v", nf)
	}

	// A hidden name is taken like any other.
	d := dialRaw(t, ts.addr)
	denied := expectKind(t, d.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"hidden","id":"x","port":1}}`), wire.TypeNode, wire.CodeRegisterDenied, 1.0)
	if denied["error"] != wire.ErrCodeNameTaken {
		t.Fatalf("REGISTER of a taken name: %v", denied)
	}
	// A second REGISTER on one connection.
	denied = expectKind(t, a.roundTrip(`{"type":1,"code":1,"id":2,"body":{"name":"other","id":"x","port":1}}`), wire.TypeNode, wire.CodeRegisterDenied, 2.0)
	if denied["error"] != wire.ErrCodeAlreadyRegistered {
		t.Fatalf("second REGISTER: %v", denied)
	}

	// Nodes() sees all three, with their time of registration.
	nodes := ts.Nodes()
	if len(nodes) != 3 || nodes[0].Name != "hidden" || nodes[0].Discoverable || !nodes[1].Discoverable || nodes[1].Since.IsZero() {
		t.Fatalf("Nodes() = %+v", nodes)
	}

	// UNREGISTER frees the name at once; the connection stays usable and
	// may register again.
	expectKind(t, b.roundTrip(`{"type":1,"code":11,"id":5}`), wire.TypeNode, wire.CodeUnregistered, 5.0)
	if got := strings.Join(discoverRaw(t, a), ","); got != "node-b" {
		t.Fatalf("NODES after UNREGISTER = %s", got)
	}
	expectKind(t, a.roundTrip(`{"type":1,"code":7,"id":6,"body":{"name":"node-a"}}`), wire.TypeNode, wire.CodeNotFound, 6.0)
	registerRaw(t, d, "node-a", 1001, "")
	registerRaw(t, b, "node-c", 1002, "")
	// UNREGISTER without a registration is harmless.
	e := dialRaw(t, ts.addr)
	expectKind(t, e.roundTrip(`{"type":1,"code":11}`), wire.TypeNode, wire.CodeUnregistered, nil)
}

func TestRegisterRules(t *testing.T) {
	ts := startServer(t, Config{})
	long64 := strings.Repeat("a", 64)
	ok := []string{
		`{"name":"n","id":"i","port":1}`,
		`{"name":"` + long64 + `","id":"` + strings.Repeat("~", 128) + `","port":65535}`,
		`{"name":"9a._-Z","id":" !x ","port":80}`,
	}
	for i, body := range ok {
		c := dialRaw(t, ts.addr)
		expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":1,"code":1,"id":%d,"body":%s}`, i, body)), wire.TypeNode, wire.CodeRegistered, float64(i))
	}
	bad := []string{
		`{"name":"","id":"i","port":1}`,
		`{"name":"a` + long64 + `","id":"i","port":1}`,
		`{"name":".a","id":"i","port":1}`,
		`{"name":"-a","id":"i","port":1}`,
		`{"name":"a b","id":"i","port":1}`,
		`{"name":"a/b","id":"i","port":1}`,
		`{"name":"é","id":"i","port":1}`,
		`{"name":"a","id":"","port":1}`,
		`{"name":"a","id":"` + strings.Repeat("x", 129) + `","port":1}`,
		`{"name":"a","id":"tab\there","port":1}`,
		`{"name":"a","id":"é","port":1}`,
		`{"name":"a","id":"i","port":0}`,
		`{"name":"a","id":"i","port":70000}`,
		`{"name":"a","id":"i","port":-1}`,
		`{"name":"a","id":"i"}`,
		`{"id":"i","port":1}`,
		`{"name":"a","port":1}`,
		`{"name":5,"id":"i","port":1}`,
		`{"name":"a","id":7,"port":1}`,
		`{"name":"a","id":"i","port":"55695"}`,
		`{"name":"a","id":"i","port":80.5}`,
		`{"name":"a","id":"i","port":1,"discoverable":"no"}`,
		`{}`,
	}
	c := dialRaw(t, ts.addr)
	for i, body := range bad {
		m := c.roundTrip(fmt.Sprintf(`{"type":1,"code":1,"id":%d,"body":%s}`, i, body))
		b := expectKind(t, m, wire.TypeNode, wire.CodeRegisterDenied, float64(i))
		if b["error"] != wire.ErrCodeBadRequest || b["message"] == "" {
			t.Errorf("%s: %v", body, m)
		}
	}
	// Denied requests leave the connection free to register.
	registerRaw(t, c, "a", 1, "")
}

// TestBadInputServerStillServes sends each bad input of issue 4 on its own
// connection, checks the answer the contract gives, whether the connection
// stays open, and that a registered node on another connection is still
// served after each.
func TestBadInputServerStillServes(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t), MaxMessage: 1024})
	watcher := dialRaw(t, ts.addr)
	registerRaw(t, watcher, "watcher", 9, "")

	type check func(t *testing.T, c *rawConn)
	closes := func(code string) check {
		return func(t *testing.T, c *rawConn) {
			expectError(t, c.recv(), code, nil)
			c.expectEOF()
		}
	}
	staysOpen := func(code string, id any) check {
		return func(t *testing.T, c *rawConn) {
			expectError(t, c.recv(), code, id)
			expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":"after"}`), wire.TypeSession, wire.CodePong, "after")
		}
	}
	denied := func(code string) check {
		return func(t *testing.T, c *rawConn) {
			b := expectKind(t, c.recv(), wire.TypeNode, wire.CodeRegisterDenied, 1.0)
			if b["error"] != code {
				t.Fatalf("REGISTER_DENIED %v, want %s", b, code)
			}
			expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":"after"}`), wire.TypeSession, wire.CodePong, "after")
		}
	}
	tests := []struct {
		name  string
		setup func(c *rawConn)
		in    string
		check check
	}{
		{"not JSON", nil, "hello there\n", closes(wire.ErrCodeBadJSON)},
		{"invalid JSON object", nil, `{"type":1,,}` + "\n", closes(wire.ErrCodeBadJSON)},
		{"truncated object", nil, `{"type":1,"code":` + "\n", closes(wire.ErrCodeBadJSON)},
		{"object over the limit", nil, `{"type":0,"code":3,"pad":"` + strings.Repeat("x", 2000) + `"}` + "\n", closes(wire.ErrCodeMessageTooLarge)},
		{"JSON array", nil, `[{"type":0,"code":3}]` + "\n", closes(wire.ErrCodeBadJSON)},
		{"JSON number", nil, "12345\n", closes(wire.ErrCodeBadJSON)},
		{"unknown type", nil, `{"type":42,"code":1,"id":1}` + "\n", staysOpen(wire.ErrCodeUnknownMessage, 1.0)},
		{"unknown code", nil, `{"type":1,"code":42,"id":1}` + "\n", staysOpen(wire.ErrCodeUnknownMessage, 1.0)},
		{"type as a string", nil, `{"type":"1","code":5,"id":1}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"code as a string", nil, `{"type":1,"code":"5","id":1}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"id as an object", nil, `{"type":1,"code":5,"id":{"a":1}}` + "\n", staysOpen(wire.ErrCodeBadRequest, nil)},
		{"body as an array", nil, `{"type":1,"code":5,"id":1,"body":[]}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"CONNECT name as a number", nil, `{"type":1,"code":7,"id":1,"body":{"name":5}}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"CONNECT without name", nil, `{"type":1,"code":7,"id":1,"body":{}}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"MODULE_REQUEST version as a number", nil, `{"type":2,"code":1,"id":1,"body":{"name":"tiny","version":1}}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"name that breaks the rules", nil, `{"type":1,"code":1,"id":1,"body":{"name":"-bad name","id":"x","port":1}}` + "\n", denied(wire.ErrCodeBadRequest)},
		{"port 0", nil, `{"type":1,"code":1,"id":1,"body":{"name":"p0","id":"x","port":0}}` + "\n", denied(wire.ErrCodeBadRequest)},
		{"port 70000", nil, `{"type":1,"code":1,"id":1,"body":{"name":"p7","id":"x","port":70000}}` + "\n", denied(wire.ErrCodeBadRequest)},
		{"REGISTER for a taken name", nil, `{"type":1,"code":1,"id":1,"body":{"name":"watcher","id":"x","port":1}}` + "\n", denied(wire.ErrCodeNameTaken)},
		{"second REGISTER", func(c *rawConn) { registerRaw(t, c, "first", 5, "") },
			`{"type":1,"code":1,"id":1,"body":{"name":"second","id":"x","port":1}}` + "\n", denied(wire.ErrCodeAlreadyRegistered)},
		{"MODULE_REQUEST with a bad constraint", nil, `{"type":2,"code":1,"id":1,"body":{"name":"tiny","version":">>=1.x.y"}}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
		{"MODULE_REQUEST with a bad name", nil, `{"type":2,"code":1,"id":1,"body":{"name":"Bad.Name","version":""}}` + "\n", staysOpen(wire.ErrCodeBadRequest, 1.0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			if tt.setup != nil {
				tt.setup(c)
			}
			c.send(tt.in)
			tt.check(t, c)
			if got := discoverRaw(t, watcher); len(got) == 0 || got[len(got)-1] != "watcher" {
				t.Fatalf("watcher's DISCOVER after bad input: %v", got)
			}
		})
	}
}

// TestStalledMessageIsCut: a peer that sends half a message and stalls is
// cut off after the message timeout, and the reason is logged.
func TestStalledMessageIsCut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ts := startServer(t, Config{MessageTimeout: timeout})
	c := dialRaw(t, ts.addr)
	registerRaw(t, c, "staller", 1, "")
	start := time.Now()
	c.send(`{"type":1,"code":5,`)
	c.expectEOF()
	if el := time.Since(start); el < timeout || el > timeout+2*time.Second {
		t.Fatalf("cut after %v, timeout %v", el, timeout)
	}
	ts.log.waitLog(t, "reason=\"message timeout\"")
	waitFor(t, "the staller's registration to end", func() bool { return len(ts.Nodes()) == 0 })
}

// TestTrickleIsCut: the deadline runs from a message's first byte, so
// bytes that keep coming, too slowly, do not extend it.
func TestTrickleIsCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, Config{MessageTimeout: timeout})
	c := dialRaw(t, ts.addr)
	msg := `{"type":0,"code":3,"pad":"` + strings.Repeat("x", 100) + `"}`
	start := time.Now()
	cut := false
	for i := 0; i < len(msg) && time.Since(start) < 5*time.Second; i++ {
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		if _, err := c.c.Write([]byte{msg[i]}); err != nil {
			cut = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !cut {
		c.expectEOF()
	}
	if el := time.Since(start); el > timeout+2*time.Second {
		t.Fatalf("trickling peer kept for %v", el)
	}
	ts.log.waitLog(t, "reason=\"message timeout\"")
}

// TestIdleNodeIsKept: a registered node that sends nothing for many
// message timeouts is kept and still answered.
func TestIdleNodeIsKept(t *testing.T) {
	const timeout = 100 * time.Millisecond
	ts := startServer(t, Config{MessageTimeout: timeout})
	c := dialRaw(t, ts.addr)
	registerRaw(t, c, "idler", 1, "")
	time.Sleep(6 * timeout)
	if got := discoverRaw(t, c); len(got) != 1 || got[0] != "idler" {
		t.Fatalf("idle node's DISCOVER: %v", got)
	}
	time.Sleep(6 * timeout)
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)
}

func TestConnectionCap(t *testing.T) {
	ts := startServer(t, Config{MaxConns: 3})
	var conns []*rawConn
	for i := 0; i < 3; i++ {
		c := dialRaw(t, ts.addr)
		expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)
		conns = append(conns, c)
	}
	over := dialRaw(t, ts.addr)
	expectError(t, over.recv(), wire.ErrCodeBusy, nil)
	over.expectEOF()
	ts.log.waitLog(t, "reason=busy")
	if n := ts.ConnCount(); n != 3 {
		t.Fatalf("ConnCount = %d, want 3", n)
	}
	// Once one leaves, a new connection is taken.
	conns[0].c.Close()
	waitFor(t, "a free connection slot", func() bool { return ts.ConnCount() == 2 })
	c := dialRaw(t, ts.addr)
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)
}

// TestDisconnectEndsRegistration: a node that closes cleanly, one whose
// socket is reset, and one whose process just drops the socket are gone
// from DISCOVER, CONNECT and Nodes at once, and their names are free.
func TestDisconnectEndsRegistration(t *testing.T) {
	ts := startServer(t, Config{})
	observer := dialRaw(t, ts.addr)
	for _, how := range []string{"close", "reset", "close-write"} {
		t.Run(how, func(t *testing.T) {
			c := dialRaw(t, ts.addr)
			registerRaw(t, c, "leaver", 4242, "")
			if got := discoverRaw(t, observer); len(got) != 1 {
				t.Fatalf("before: %v", got)
			}
			switch how {
			case "close":
				c.c.Close()
			case "reset":
				c.c.(*net.TCPConn).SetLinger(0)
				c.c.Close()
			case "close-write":
				c.c.(*net.TCPConn).CloseWrite()
			}
			waitFor(t, "the node to leave NODES", func() bool { return len(discoverRaw(t, observer)) == 0 })
			expectKind(t, observer.roundTrip(`{"type":1,"code":7,"id":1,"body":{"name":"leaver"}}`), wire.TypeNode, wire.CodeNotFound, 1.0)
			if n := ts.Nodes(); len(n) != 0 {
				t.Fatalf("Nodes() = %v", n)
			}
			again := dialRaw(t, ts.addr)
			registerRaw(t, again, "leaver", 4243, "")
			again.c.Close()
			waitFor(t, "the second node to leave", func() bool { return len(ts.Nodes()) == 0 })
		})
	}
}

// TestWriteTimeout: a peer that asks for a large module and never reads is
// cut once a write has waited WriteTimeout, so it pins no memory.
func TestWriteTimeout(t *testing.T) {
	r := newRepo(t)
	upload(t, r, "big", "v1.0.0", testutil.Wasm("m", 16<<20))
	ts := startServer(t, Config{Modules: r, WriteTimeout: 200 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	c.c.(*net.TCPConn).SetReadBuffer(4096)
	c.send(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")
	waitFor(t, "the non-reading peer to be cut", func() bool { return ts.ConnCount() == 0 })
	ts.log.waitLog(t, "reason=\"write error\"")
}

// TestWriteTimeoutSmallReplies: small replies are written without a
// deadline while the socket takes them at once (writeSmallLocked); a peer
// that pipelines requests and never reads fills the socket, and is then cut
// once a write has waited WriteTimeout, as for a MODULE reply.
func TestWriteTimeoutSmallReplies(t *testing.T) {
	ts := startServer(t, Config{WriteTimeout: 200 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	c.c.(*net.TCPConn).SetReadBuffer(4096)
	// Each PING's reply carries its 256 KiB id: a few fill every buffer
	// between the server and this peer.
	ping := []byte(`{"type":0,"code":3,"id":"` + strings.Repeat("p", 256<<10) + `"}` + "\n")
	sent := make(chan error, 1)
	go func() {
		// The server stops reading once its write waits: this write then
		// waits too, until the server cuts the connection.
		c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
		var err error
		for i := 0; i < 400 && err == nil; i++ {
			_, err = c.c.Write(ping)
		}
		sent <- err
	}()
	waitFor(t, "the non-reading peer to be cut", func() bool { return ts.ConnCount() == 0 })
	ts.log.waitLog(t, "reason=\"write error\"")
	if err := <-sent; err == nil {
		t.Fatal("400 PINGs of 256 KiB went through to a server whose replies are never read")
	}
}

// TestSmallReplyAfterDeadline: a MODULE reply and SUBSCRIBED leave a write
// deadline on the socket; once it has passed, small replies still go out
// (writeSmallLocked clears it rather than failing at once).
func TestSmallReplyAfterDeadline(t *testing.T) {
	r := newRepo(t)
	upload(t, r, "tiny", "v0.0.1", testutil.TinyWasm)
	ts := startServer(t, Config{Modules: r, Events: events.New(events.Options{}), WriteTimeout: 100 * time.Millisecond})
	c := dialRaw(t, ts.addr)
	for i, req := range []string{
		`{"type":2,"code":1,"id":1,"body":{"name":"tiny"}}`,
		`{"type":3,"code":1,"id":2,"body":{"topics":["modules"]}}`,
	} {
		if m := c.roundTrip(req); m["code"] != float64([]int{wire.CodeModule, wire.CodeSubscribed}[i]) {
			t.Fatalf("%s: %v", req, m)
		}
		time.Sleep(250 * time.Millisecond) // past the deadline that reply set
		if m := c.roundTrip(`{"type":0,"code":3,"id":3}`); m["code"] != float64(wire.CodePong) {
			t.Fatalf("PING after %s: %v", req, m)
		}
		if m := c.roundTrip(`{"type":1,"code":5,"id":4}`); m["code"] != float64(wire.CodeNodes) {
			t.Fatalf("DISCOVER after %s: %v", req, m)
		}
	}
}

func TestShutdown(t *testing.T) {
	ts := startServer(t, Config{})
	var conns []*rawConn
	for i := 0; i < 5; i++ {
		c := dialRaw(t, ts.addr)
		registerRaw(t, c, fmt.Sprintf("n%d", i), 1, "")
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for _, c := range conns {
		c.expectEOF()
	}
	if err := <-ts.done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	ts.done <- ErrServerClosed // for the cleanup's check
	if n, c := len(ts.Nodes()), ts.ConnCount(); n != 0 || c != 0 {
		t.Fatalf("after Shutdown: %d nodes, %d connections", n, c)
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Fatal("the listener still accepts after Shutdown")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	ts.log.waitLog(t, "reason=\"server shutdown\"")
}

// TestShutdownWaitsForRequestInProgress: a MODULE reply being written
// holds Shutdown until it is done, or until Shutdown's context ends.
func TestShutdownWaitsForRequestInProgress(t *testing.T) {
	r := newRepo(t)
	// Larger than the loopback socket buffers, so the write blocks.
	big := testutil.Wasm("m", 16<<20)
	upload(t, r, "big", "v1.0.0", big)
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	c.send(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")
	// Wait until the reply has begun.
	c.c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.br.Peek(1); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a reply stuck in progress: %v", err)
	}
	// The reader now reads: the reply completes, then the connection ends.
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	m := c.recv()
	b := expectKind(t, m, wire.TypeWasm, wire.CodeModule, 1.0)
	if b["size"] != float64(len(big)) {
		t.Fatalf("MODULE size %v", b["size"])
	}
	c.expectEOF()
	if err := <-done; err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// faultyListener is a real listener whose Accept fails with err the first
// fails times.
type faultyListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
	err   error
}

func (l *faultyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, l.err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestServeBacksOffOnTemporaryErrors: too many open files is retried after
// a back-off; another accept error ends Serve with that error.
func TestServeBacksOffOnTemporaryErrors(t *testing.T) {
	lb := &logBuffer{}
	s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(lb, nil))})
	defer s.Close()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept", syscall.EMFILE)}
	l := &faultyListener{Listener: inner, fails: 4, err: emfile}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dialRaw(t, inner.Addr().String())
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)
	if got := strings.Count(lb.String(), "accept failed; retrying"); got != 4 {
		t.Fatalf("%d retries logged, want 4:\n%s", got, lb.String())
	}

	broken := errors.New("listener broken")
	inner2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(&faultyListener{Listener: inner2, fails: 1, err: broken}); !errors.Is(err, broken) {
		t.Fatalf("Serve with a broken listener: %v", err)
	}
	s.Close()
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
}
