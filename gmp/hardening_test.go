package gmp

import (
	"encoding/json"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/gmp/wire"
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
