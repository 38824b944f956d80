package wire

import (
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
