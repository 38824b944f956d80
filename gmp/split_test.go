package gmp

import (
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// splitRequests are requests whose replies do not depend on what came
// before on the connection, so each can be sent many times (REGISTER is
// undone by the UNREGISTER after it).
var splitRequests = []struct{ req, reply string }{
	contractVectors[1], // DISCOVER (node-1 registered by the setup)
	contractVectors[2], // MODULE_REQUEST tiny
	contractVectors[3], // CONNECT node-2: NOT_FOUND
	contractVectors[4], // unknown type
	{`{"type":0,"code":1,"id":"h","body":{"client":"gvm/0.4.1","versions":[1]}}`,
		`{"type":0,"code":2,"id":"h","body":{"server":"gpmd","version":1,"max_message":1048576,"features":["have"]}}`},
	{`{"type":0,"code":3,"id":6,"body":{}}`, `{"type":0,"code":4,"id":6,"body":{}}`},
	{`{"type":2,"code":4,"id":7,"body":{"name":"tiny"}}`,
		`{"type":2,"code":5,"id":7,"body":{"modules":[{"name":"tiny","versions":[{"version":"v0.0.1","hash":"` + tinyDigest + `","size":8}]}]}}`},
	{`{"type":1,"code":1,"id":8,"body":{"name":"node-9","id":"a9","port":40009}}`,
		`{"type":1,"code":3,"id":8,"body":{"name":"node-9","id":"a9","address":"127.0.0.1","port":40009}}`},
	{`{"type":1,"code":11,"id":9}`, `{"type":1,"code":12,"id":9,"body":{}}`},
}

// TestSplitAtEveryOffset sends every request split in two at every byte
// offset, with a pause between the halves so the server reads them apart,
// over real TCP (nats-server's split_test, for GMP).
func TestSplitAtEveryOffset(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	setup := dialRaw(t, ts.addr)
	sameJSON(t, []byte(mustJSON(t, setup.roundTrip(contractVectors[0].req))), contractVectors[0].reply)

	c := dialRaw(t, ts.addr)
	for _, v := range splitRequests {
		msg := v.req + "\n"
		for i := 1; i < len(msg); i++ {
			c.send(msg[:i])
			time.Sleep(200 * time.Microsecond)
			c.send(msg[i:])
			sameJSON(t, c.line(), v.reply)
			if t.Failed() {
				t.Fatalf("split at %d of %s", i, v.req)
			}
			if strings.Contains(v.req, `"code":1,`) && strings.HasPrefix(v.req, `{"type":1,`) {
				// Free the connection for the next REGISTER.
				expectKind(t, c.roundTrip(`{"type":1,"code":11,"id":"u"}`), wire.TypeNode, wire.CodeUnregistered, "u")
			}
		}
	}
}

// TestBackToBack sends all the requests in one write, with no line feeds
// or with assorted JSON whitespace between them.
func TestBackToBack(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	setup := dialRaw(t, ts.addr)
	setup.roundTrip(contractVectors[0].req)
	for _, sep := range []string{"", " ", "\t", "\r\n", "\n\n", " \t\r\n "} {
		c := dialRaw(t, ts.addr)
		var all []string
		for _, v := range splitRequests {
			all = append(all, v.req)
		}
		c.send(sep + strings.Join(all, sep) + sep)
		for _, v := range splitRequests {
			sameJSON(t, c.line(), v.reply)
		}
	}
}

// TestBodyAsString: the early encoding, a body sent as a JSON string that
// holds the object, works for every request with a body.
func TestBodyAsString(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	c := dialRaw(t, ts.addr)
	tests := []struct{ req, reply string }{
		{`{"type":1,"code":1,"id":1,"body":"{\"name\":\"node-1\",\"id\":\"a1\",\"port\":40001}"}`,
			`{"type":1,"code":3,"id":1,"body":{"name":"node-1","id":"a1","address":"127.0.0.1","port":40001}}`},
		{`{"type":1,"code":5,"id":2,"body":"{}"}`, `{"type":1,"code":6,"id":2,"body":{"nodes":["node-1"]}}`},
		{`{"type":1,"code":7,"id":3,"body":"{\"name\":\"node-1\"}"}`,
			`{"type":1,"code":8,"id":3,"body":{"name":"node-1","id":"a1","address":"127.0.0.1","port":40001}}`},
		{`{"type":2,"code":1,"id":4,"body":"{\"name\":\"tiny\",\"version\":\"\"}"}`, contractVectors[2].reply[:len(`{"type":2,"code":2,"id":`)] + "4" + contractVectors[2].reply[len(`{"type":2,"code":2,"id":3`):]},
		{`{"type":0,"code":1,"id":5,"body":" {\"versions\":[1]} "}`, `{"type":0,"code":2,"id":5,"body":{"server":"gpmd","version":1,"max_message":1048576,"features":["have"]}}`},
		{`{"type":2,"code":4,"id":6,"body":"{\"name\":\"nope\"}"}`, `{"type":2,"code":5,"id":6,"body":{"modules":[]}}`},
		{`{"type":1,"code":11,"id":7,"body":"{}"}`, `{"type":1,"code":12,"id":7,"body":{}}`},
	}
	for _, tt := range tests {
		c.send(tt.req + "\n")
		sameJSON(t, c.line(), tt.reply)
	}
	// A string that does not hold an object is a bad request.
	for _, body := range []string{`"[1]"`, `"x"`, `""`, `"{\"name\":"`} {
		expectError(t, c.roundTrip(`{"type":1,"code":7,"id":9,"body":`+body+`}`), wire.ErrCodeBadRequest, 9.0)
	}
}
