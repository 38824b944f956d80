package gmp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// decodeAll reads every message of in; it returns them and the error that
// ended the stream.
func decodeAll(r io.Reader, max int) ([]string, error) {
	d := NewDecoder(r, max)
	var out []string
	for {
		msg, err := d.Next()
		if err != nil {
			return out, err
		}
		out = append(out, string(msg))
	}
}

func TestDecoderFraming(t *testing.T) {
	a, b, c := `{"type":0,"code":3}`, `{"type":1,"code":5,"id":"x"}`, `{"a":"}{\"","b":[{"c":"]"}]}`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"line feed", a + "\n" + b + "\n", []string{a, b}},
		{"back to back", a + b + c, []string{a, b, c}},
		{"any whitespace", " \t\r\n" + a + "\r\n\t " + b + "   " + c + "\n\n", []string{a, b, c}},
		{"no final line feed", a, []string{a}},
		{"braces and quotes in strings", c + "\n", []string{c}},
		{"nested objects", `{"body":{"x":{"y":{}}}}` + "\n", []string{`{"body":{"x":{"y":{}}}}`}},
		{"empty stream", "", nil},
		{"whitespace only", " \n\t\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := decodeAll(r, 1024)
				if err != io.EOF {
					t.Fatalf("stream ended with %v, want io.EOF", err)
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestDecoderBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
		ok   int // messages decoded before the error
	}{
		{"not JSON", "hello\n", ErrBadJSON, 0},
		{"array", "[1,2]\n", ErrBadJSON, 0},
		{"number", "42\n", ErrBadJSON, 0},
		{"string", `"x"` + "\n", ErrBadJSON, 0},
		{"literal", "null\n", ErrBadJSON, 0},
		{"invalid object", `{"a":}` + "\n", ErrBadJSON, 0},
		{"mismatched brackets", `{"a":[}]` + "\n", ErrBadJSON, 0},
		{"truncated at EOF", `{"type":1,"code":`, ErrBadJSON, 0},
		{"truncated by a line feed", `{"type":1,"code":` + "\n" + `{"type":0,"code":3}` + "\n", ErrBadJSON, 0},
		{"raw line feed in a string", "{\"a\":\"x\ny\"}\n", ErrBadJSON, 0},
		{"raw control character in a string", "{\"a\":\"x\x01y\"}\n", ErrBadJSON, 0},
		{"after a good message", `{"type":0,"code":3}` + "\n" + "[]\n", ErrBadJSON, 1},
		{"garbage after a good message", `{"type":0,"code":3}xyz`, ErrBadJSON, 1},
		{"over the limit", `{"a":"` + strings.Repeat("x", 100) + `"}` + "\n", ErrMessageTooLarge, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := decodeAll(r, 64)
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				if len(got) != tt.ok {
					t.Fatalf("decoded %q before the error, want %d messages", got, tt.ok)
				}
			}
		})
	}
}

func TestDecoderSizeLimit(t *testing.T) {
	const max = 4096
	exact := `{"a":"` + strings.Repeat("x", max-8) + `"}`
	if len(exact) != max {
		t.Fatalf("test message is %d bytes", len(exact))
	}
	got, err := decodeAll(strings.NewReader(exact+"\n"+exact), max)
	if err != io.EOF || len(got) != 2 || got[0] != exact {
		t.Fatalf("a message of exactly the limit: %d messages, %v", len(got), err)
	}
	over := `{"a":"` + strings.Repeat("x", max-7) + `"}`
	if _, err := decodeAll(strings.NewReader(over), max); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("one byte over the limit: %v", err)
	}

	// An endless message is refused after about the limit, not read whole.
	endless := &countingReader{r: io.MultiReader(strings.NewReader(`{"a":"`), infiniteX{})}
	if _, err := decodeAll(endless, max); !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("endless message: %v", err)
	}
	if endless.n > max+readBufferSize {
		t.Fatalf("read %d bytes of an endless message with a limit of %d", endless.n, max)
	}
}

func TestDecoderShrinksAfterLargeMessage(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 200<<10) + `"}`
	d := NewDecoder(strings.NewReader(big+`{"b":1}`), 1<<20)
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if msg, err := d.Next(); err != nil || string(msg) != `{"b":1}` {
		t.Fatalf("second message %q, %v", msg, err)
	}
	if len(d.buf) > keepBufferSize {
		t.Fatalf("buffer still %d bytes after the large message", len(d.buf))
	}
}

// TestDecoderSplitEverywhere feeds every message of the contract cut at
// every byte offset (and in three pieces), as a reader returning exactly
// those pieces: the decoder must yield the same messages.
func TestDecoderSplitEverywhere(t *testing.T) {
	var stream string
	var want []string
	for _, v := range contractVectors {
		stream += v.req + "\n"
		stream += v.reply // replies are messages too; no line feed: back to back
		want = append(want, v.req, v.reply)
	}
	for i := 1; i < len(stream); i++ {
		got, err := decodeAll(&chunkReader{chunks: []string{stream[:i], stream[i:]}}, 1024)
		if err != io.EOF || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("split at %d: got %d messages, %v", i, len(got), err)
		}
	}
	for i := 1; i < len(stream); i += 7 {
		for j := i + 1; j < len(stream); j += 5 {
			got, err := decodeAll(&chunkReader{chunks: []string{stream[:i], stream[i:j], stream[j:]}}, 1024)
			if err != io.EOF || strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("split at %d and %d: got %d messages, %v", i, j, len(got), err)
			}
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		msg      string
		typ      int64
		code     int64
		id, body string
		errCode  string // "" when valid
	}{
		{`{"type":1,"code":5}`, 1, 5, "", "", ""},
		{`{"type":1,"code":5,"id":7,"body":{}}`, 1, 5, "7", "{}", ""},
		{`{"code":5,"type":1,"id":"ab\"c"}`, 1, 5, `"ab\"c"`, "", ""},
		{`{"type":1,"code":5,"id":null,"body":null}`, 1, 5, "", "", ""},
		{`{"type":1,"code":7,"body":"{\"name\":\"n\"}"}`, 1, 7, "", `{"name":"n"}`, ""},
		{`{"typ\u0065":1,"code":7,"extra":[1,{"x":2}]}`, 1, 7, "", "", ""},
		{`{"type":-3,"code":99999}`, -3, 99999, "", "", ""},
		{`{"Type":1,"code":5}`, 0, 0, "", "", wire.ErrCodeBadRequest}, // keys are exact
		{`{"code":5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":"1","code":5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1.0,"code":5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5e0}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"id":1.5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"id":true}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"id":{}}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"body":[]}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"body":5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"body":"not json"}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":1,"code":5,"body":"[1]"}`, 0, 0, "", "", wire.ErrCodeBadRequest},
		{`{"type":99999999999999999999,"code":5}`, 0, 0, "", "", wire.ErrCodeBadRequest},
	}
	for _, tt := range tests {
		env, rerr := parseEnvelope([]byte(tt.msg))
		if tt.errCode != "" {
			if rerr == nil || rerr.code != tt.errCode {
				t.Errorf("%s: error %v, want %s", tt.msg, rerr, tt.errCode)
			}
			continue
		}
		if rerr != nil {
			t.Errorf("%s: %v", tt.msg, rerr)
			continue
		}
		if env.typ != tt.typ || env.code != tt.code || string(env.id) != tt.id || string(env.body) != tt.body {
			t.Errorf("%s: got type %d code %d id %q body %q", tt.msg, env.typ, env.code, env.id, env.body)
		}
	}
}

// chunkReader returns its chunks one per Read.
type chunkReader struct{ chunks []string }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

type infiniteX struct{}

func (infiniteX) Read(p []byte) (int, error) {
	copy(p, bytes.Repeat([]byte{'x'}, len(p)))
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
