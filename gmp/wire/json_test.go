package wire

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestAppendStringMatchesEncodingJSON: the hand-written string encoder
// produces what encoding/json decodes back to the same string.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "nl\n\r\t", "\x00\x1f\x7f", "é中😀", "bad\xffutf8", "\u2028\u2029", "<&>"} {
		b := AppendString(nil, s)
		if !json.Valid(b) {
			t.Fatalf("%q encodes to invalid JSON %s", s, b)
		}
		var back string
		json.Unmarshal(b, &back)
		want := strings.ToValidUTF8(s, "\uFFFD")
		if back != want {
			t.Errorf("%q round-trips to %q", s, back)
		}
	}
}

// TestLastMembers: of duplicate keys the last counts, whatever the earlier
// ones held; null is absent, also after a value; escaped keys are the same
// key; other keys are left alone.
func TestLastMembers(t *testing.T) {
	names := []string{"name", "port"}
	for _, tt := range []struct {
		obj        string
		name, port string // "" for nil
	}{
		{`{"name":"x","name":null}`, "", ""},
		{`{"name":null,"name":"x"}`, `"x"`, ""},
		{`{"name":5,"name":"x","port":1}`, `"x"`, "1"},
		{`{"na\u006de":"y","name":"x","na\u006de":"z"}`, `"z"`, ""},
		{`{"Name":"x","port":null,"other":{"name":"in"}}`, "", ""},
		{`{}`, "", ""},
	} {
		out := make([][]byte, 2)
		out[0] = []byte("stale")
		LastMembers([]byte(tt.obj), names, out)
		if string(out[0]) != tt.name || string(out[1]) != tt.port {
			t.Errorf("%s: name %q port %q, want %q %q", tt.obj, out[0], out[1], tt.name, tt.port)
		}
	}
}

// keyIsRef is the plain form of KeyIs, which spares the search for a
// backslash on the common keys; FuzzKeyIs holds it to this (and
// FuzzDecodeInt DecodeInt to parseInt).
func keyIsRef(key []byte, want string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return len(key) == len(want)+2 && string(key[1:len(key)-1]) == want
	}
	s, ok := DecodeString(key)
	return ok && s == want
}

func FuzzKeyIs(f *testing.F) {
	for _, s := range []string{`"type"`, `"typ\u0065"`, `"t"`, `"\u0074ype"`, `"body"`, `"\"x"`, "\"\xff\"", `"ty\npe"`} {
		f.Add([]byte(s), "type")
	}
	f.Fuzz(func(t *testing.T, key []byte, want string) {
		if !json.Valid(key) || len(key) < 2 || key[0] != '"' {
			return // KeyIs takes the key tokens of valid objects
		}
		if got, ref := KeyIs(key, want), keyIsRef(key, want); got != ref {
			t.Fatalf("KeyIs(%q, %q) = %v, want %v", key, want, got, ref)
		}
	})
}

func FuzzDecodeInt(f *testing.F) {
	for _, s := range []string{"0", "7", "-1", "123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808", "1.0", "1e3", "007", "", "-", "x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, val []byte) {
		n, ok := DecodeInt(val)
		rn, rok := parseInt(val)
		if n != rn || ok != rok {
			t.Fatalf("DecodeInt(%q) = %d, %v; want %d, %v", val, n, ok, rn, rok)
		}
	})
}
