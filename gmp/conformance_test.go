package gmp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"

	"github.com/ghost-network/gpmd/gmp/gmptest"
)

// contractVectors are GMP.md's test vectors (kept once, in gmptest), in
// the shape the tests of this package use.
var contractVectors = func() []struct{ req, reply string } {
	var vs []struct{ req, reply string }
	for _, v := range gmptest.ContractVectors() {
		vs = append(vs, struct{ req, reply string }{v.Request, v.Reply})
	}
	return vs
}()

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
