package gmp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// fuzzSeeds are the contract's vectors, the split-test requests and the
// bad inputs of issue 4.
func fuzzSeeds(f *testing.F) {
	var all []byte
	for _, v := range contractVectors {
		f.Add([]byte(v.req + "\n"))
		f.Add([]byte(v.reply + "\n"))
		all = append(all, v.req...)
	}
	f.Add(all)
	for _, v := range splitRequests {
		f.Add([]byte(v.req))
	}
	for _, s := range []string{
		"hello\n", "[1,2]\n", "42\n", `{"type":1,"code":` + "\n", `{"type":"1","code":5}`,
		`{"type":1,"code":1,"id":1,"body":{"name":"-x","id":"a","port":70000}}`,
		`{"type":1,"code":1,"id":1,"body":"{\"name\":\"n\",\"id\":\"a\",\"port\":1}"}`,
		`{"type":2,"code":1,"id":"q","body":{"name":"tiny","version":">>=x"}}`,
		`{"type":0,"code":1,"body":{"versions":[2]}}`,
		`{"type":0,"code":3,"id":{"x":1}} {"typ\u0065":0,"code":3}`,
	} {
		f.Add([]byte(s))
	}
}

// errClass names the framing error class of err.
func errClass(err error) string {
	for _, e := range []error{io.EOF, ErrBadJSON, ErrMessageTooLarge} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "other: " + err.Error()
}

// FuzzDecoder feeds arbitrary bytes to the codec. Every message it yields
// is one valid JSON object within the limit; the result does not depend
// on how the bytes arrive; the envelope parser agrees with encoding/json.
func FuzzDecoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 512
		msgs, err := decodeAll(bytes.NewReader(data), max)
		msgs1, err1 := decodeAll(iotest.OneByteReader(bytes.NewReader(data)), max)
		if !slices.Equal(msgs, msgs1) || errClass(err) != errClass(err1) {
			t.Fatalf("whole: %q %v; byte by byte: %q %v", msgs, err, msgs1, err1)
		}
		if strings.HasPrefix(errClass(err), "other") {
			t.Fatalf("unexpected error class: %v", err)
		}
		for _, m := range msgs {
			if len(m) > max || m[0] != '{' || !json.Valid([]byte(m)) {
				t.Fatalf("bad message out of the decoder: %q", m)
			}
			checkEnvelope(t, []byte(m))
		}
	})
}

// checkEnvelope compares parseEnvelope with encoding/json on one message.
func checkEnvelope(t *testing.T, msg []byte) {
	env, rerr := parseEnvelope(msg)
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		t.Fatalf("encoding/json refuses a message the decoder passed: %v", err)
	}
	asInt := func(raw json.RawMessage) (int64, bool) {
		var n int64
		if raw == nil || string(raw) == "null" || json.Unmarshal(raw, &n) != nil {
			return 0, false
		}
		return n, true
	}
	typ, okT := asInt(fields["type"])
	code, okC := asInt(fields["code"])
	okID, okBody := true, true
	if id, ok := fields["id"]; ok && string(id) != "null" {
		var s string
		_, isInt := asInt(id)
		// GMP refuses an id string of invalid UTF-8, which
		// encoding/json lets through (the package doc, Bodies).
		okID = isInt || json.Unmarshal(id, &s) == nil && utf8.Valid(id)
	}
	if body, ok := fields["body"]; ok && string(body) != "null" {
		var obj map[string]json.RawMessage
		var s string
		okBody = json.Unmarshal(body, &obj) == nil ||
			(json.Unmarshal(body, &s) == nil && json.Unmarshal([]byte(s), &obj) == nil && obj != nil)
	}
	if valid := okT && okC && okID && okBody; valid != (rerr == nil) {
		t.Fatalf("encoding/json says valid=%v (type %v code %v id %v body %v), parseEnvelope: %v", valid, okT, okC, okID, okBody, rerr)
	}
	if rerr != nil {
		return
	}
	if typ != env.typ || code != env.code {
		t.Fatalf("envelope type %d code %d, encoding/json %d %d", env.typ, env.code, typ, code)
	}
	if env.id != nil && !json.Valid(env.id) {
		t.Fatalf("id %q is not JSON", env.id)
	}
	if env.body != nil {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(env.body, &obj); err != nil || obj == nil {
			t.Fatalf("body %q is not an object: %v", env.body, err)
		}
	}
}

// FuzzServer feeds arbitrary bytes to a real server over real TCP, then
// half-closes: every reply must be a whole JSON object on its own line
// with integer type and code, and no handler may panic.
func FuzzServer(f *testing.F) {
	fuzzSeeds(f)
	ts := startServer(f, Config{Modules: newRepo(f), MaxMessage: 4096, MessageTimeout: time.Second})
	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.DialTimeout("tcp", ts.addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(ioTimeout))
		// Write while reading: GPMD may answer (and close) before all of
		// the input is in.
		go func() {
			nc.Write(data)
			nc.(*net.TCPConn).CloseWrite()
		}()
		out, err := io.ReadAll(nc)
		if err != nil && !isEOF(err) {
			t.Fatalf("reading replies: %v", err)
		}
		if len(out) > 0 && out[len(out)-1] != '\n' {
			t.Fatalf("output does not end with a line feed: %q", clip(out))
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
			if len(out) == 0 {
				break
			}
			var m struct {
				Type, Code *int64
				Body       map[string]json.RawMessage
			}
			if err := json.Unmarshal(line, &m); err != nil || m.Type == nil || m.Code == nil || m.Body == nil {
				t.Fatalf("reply %q: %v", clip(line), err)
			}
		}
		if n := ts.panics.Load(); n != 0 {
			t.Fatalf("handler panicked; log:\n%s", ts.log.String())
		}
	})
}
