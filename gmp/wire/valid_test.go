package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

// validCases are JSON texts and near misses, each judged by json.Valid.
var validCases = []string{
	`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"x"}`, ` {"type":1,"code":5,"id":1} `,
	`{"type":1,"code":7,"id":"c-4","body":{"name":"node-8399"}}`, `"s"`, `1`, `-0`, `-0.5e+10`, `1E-3`, `true`, `false`, `null`,
	"\"\x7f\xff\xfe\"", `"\u00e9\n\"\\\/\b\f\r\t"`, `"\u00zz"`, `"\x"`, "\"a\x1f\"", `"`, `"\u12"`,
	`01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `--1`, `0x1`, `tru`, `nul`, `truee`, `[1,]`, `[,1]`, `{"a":1,}`, `{,}`,
	`{"a"}`, `{"a":}`, `{1:2}`, `{"a" 1}`, `[1 2]`, `{"a":1]`, `[1}`, `{]`, `[}`, `}`, `]`, `,`, ``, ` `, `{}{}`, `{} x`, `[[[]]]`, `[[[]]`,
	"\t\n\r {\t\"a\"\n:\r[ ]\n}\n", `{"a":{"b":{"c":[true,false,null,"",0,1.5]}}}`,
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, json.Valid says %v", s, got, want)
		}
	}
	// encoding/json refuses nesting deeper than 10,000; so does Valid.
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		for _, s := range []string{
			strings.Repeat("[", n) + strings.Repeat("]", n),
			strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1),
			strings.Repeat(`[{"a":`, n/2) + "0" + strings.Repeat("}]", n/2),
		} {
			if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("depth %d (%.12s…): Valid %v, json.Valid %v", n, s, got, want)
			}
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	msg := []byte(`{"type":1,"code":7,"id":2,"body":{"name":"node-01"}}`)
	b.Run("wire", func(b *testing.B) {
		for b.Loop() {
			Valid(msg)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(msg)
		}
	})
}
