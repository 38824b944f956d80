// Package gmptest holds what tests of GMP peers share: the contract's test
// vectors (GMP.md, "Test vectors") and the rule for comparing a reply with
// one. The gmp package's own conformance test and the daemon's end-to-end
// one both replay these, so the vectors exist in one place.
package gmptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

// TinyWasm is the contract's smallest valid module; the vectors expect it
// uploaded as tiny v0.0.1 before they run.
// It is testutil's, the one home of the fixture.
var TinyWasm = testutil.TinyWasm

// Vector is one request line and the reply it must get.
type Vector struct{ Request, Reply string }

// ContractVectors returns GMP.md's test vectors, byte for byte, in order,
// for a fresh connection.
func ContractVectors() []Vector {
	return []Vector{
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
}

// CompareReply checks a reply line against a vector's reply as the
// contract says: the order of fields and the text of "message" are free
// (but a message must be there, non-empty, where the vector has one); the
// rest is not.
func CompareReply(got []byte, want string) error {
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("reply is not a JSON object: %v: %q", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return fmt.Errorf("vector is not a JSON object: %v: %q", err, want)
	}
	gb, _ := g["body"].(map[string]any)
	wb, _ := w["body"].(map[string]any)
	if gb != nil && wb != nil {
		if _, ok := wb["message"]; ok {
			if msg, ok := gb["message"].(string); !ok || msg == "" {
				return fmt.Errorf("reply lacks a message: %s", got)
			}
			gb["message"], wb["message"] = "", ""
		}
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("reply differs from the vector\n got: %s\nwant: %s", got, want)
	}
	return nil
}

// Repo opens a real module repository in a temporary folder of t, with
// TinyWasm uploaded as tiny v0.0.1 (what the vectors expect); it is closed
// when t ends.
func Repo(t testing.TB) *repo.Repo {
	t.Helper()
	r, err := repo.Open(context.Background(), t.TempDir(), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	Upload(t, r, "tiny", "v0.0.1", TinyWasm)
	return r
}

// Upload stores b as name@version in r, failing t on error.
func Upload(t testing.TB, r *repo.Repo, name, version string, b []byte) {
	t.Helper()
	ref, err := index.ParseRef(name, version)
	if err != nil {
		t.Fatalf("upload %s %s: %v", name, version, err)
	}
	if _, err := r.Upload(context.Background(), ref, bytes.NewReader(b), ""); err != nil {
		t.Fatalf("upload %s %s: %v", name, version, err)
	}
}
