package gmptest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestTinyMatchesTheVectors(t *testing.T) {
	sum := sha256.Sum256(TinyWasm)
	module := ContractVectors()[2].Reply
	for _, want := range []string{base64.StdEncoding.EncodeToString(TinyWasm), "sha256:" + hex.EncodeToString(sum[:])} {
		if !strings.Contains(module, want) {
			t.Errorf("the MODULE vector lacks %s", want)
		}
	}
}

func TestCompareReply(t *testing.T) {
	want := `{"type":1,"code":10,"id":4,"body":{"error":"not_found","message":"x"}}`
	for _, tc := range []struct {
		got string
		ok  bool
	}{
		{`{"id":4,"type":1,"code":10,"body":{"message":"other text","error":"not_found"}}`, true},
		{`{"type":1,"code":10,"id":4,"body":{"error":"not_found"}}`, false},                 // message missing
		{`{"type":1,"code":10,"id":4,"body":{"error":"not_found","message":""}}`, false},    // message empty
		{`{"type":1,"code":10,"id":"4","body":{"error":"not_found","message":"m"}}`, false}, // id of another type
		{`{"type":1,"code":8,"id":4,"body":{"error":"not_found","message":"m"}}`, false},
		{`[1]`, false},
	} {
		if err := CompareReply([]byte(tc.got), want); (err == nil) != tc.ok {
			t.Errorf("CompareReply(%s) = %v, want ok=%v", tc.got, err, tc.ok)
		}
	}
}
