package gmp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
)

// contractVectors are GMP.md's test vectors, byte for byte: each request
// line and the reply it must get (compared as JSON: field order and the
// text of "message" are free, the rest is not).
var contractVectors = []struct{ req, reply string }{
	{`{"type":1,"code":1,"id":1,"body":{"name":"node-1","id":"a1","port":40001}}`,
		`{"type":1,"code":3,"id":1,"body":{"name":"node-1","id":"a1","address":"127.0.0.1","port":40001}}`},
	{`{"type":1,"code":5,"id":2}`,
		`{"type":1,"code":6,"id":2,"body":{"nodes":["node-1"]}}`},
	{`{"type":2,"code":1,"id":3,"body":{"name":"tiny","version":""}}`,
		`{"type":2,"code":2,"id":3,"body":{"name":"tiny","version":"v0.0.1","hash":"sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476","size":8,"binary":"AGFzbQEAAAA="}}`},
	{`{"type":1,"code":7,"id":4,"body":{"name":"node-2"}}`,
		`{"type":1,"code":10,"id":4,"body":{"error":"not_found","message":"no live node named node-2"}}`},
	{`{"type":7,"code":1,"id":5}`,
		`{"type":0,"code":9,"id":5,"body":{"error":"unknown_message","message":"…"}}`},
}

// TestContractConstants checks the contract's statements about the tiny
// module itself.
func TestContractConstants(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(tinyWasm); got != "AGFzbQEAAAA=" {
		t.Errorf("base64 = %s", got)
	}
	sum := sha256.Sum256(tinyWasm)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != tinyDigest {
		t.Errorf("digest = %s", got)
	}
}

// TestConformanceVectors replays the contract's vectors over raw TCP
// against a real server backed by a real repository.
func TestConformanceVectors(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	c := dialRaw(t, ts.addr)
	for i, v := range contractVectors {
		c.send(v.req + "\n")
		got := c.line()
		t.Logf("vector %d\n→ %s\n← %s", i+1, v.req, got)
		sameJSON(t, got, v.reply)
	}
}

// TestConformanceVectorsPipelined sends all the vectors in one write, with
// no line feed between them (the early GVMs' bare objects), and expects
// the same replies in the same order.
func TestConformanceVectorsPipelined(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	c := dialRaw(t, ts.addr)
	var all string
	for _, v := range contractVectors {
		all += v.req
	}
	c.send(all)
	for _, v := range contractVectors {
		sameJSON(t, c.line(), v.reply)
	}
}
