package gmp

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// checkModule checks a MODULE body against the bytes expected.
func checkModule(t testing.TB, body map[string]any, name, version string, want []byte) {
	t.Helper()
	if body["name"] != name || body["version"] != version {
		t.Fatalf("MODULE %v %v, want %s %s", body["name"], body["version"], name, version)
	}
	if body["hash"] != digestOf(want) || body["size"] != float64(len(want)) {
		t.Fatalf("MODULE %s %s: hash %v size %v, want %s %d", name, version, body["hash"], body["size"], digestOf(want), len(want))
	}
	bin, err := base64.StdEncoding.Strict().DecodeString(body["binary"].(string))
	if err != nil || !bytes.Equal(bin, want) {
		t.Fatalf("MODULE %s %s: binary does not decode to the module (%v)", name, version, err)
	}
}

func TestModuleResolution(t *testing.T) {
	r := newRepo(t)
	mods := map[string][]byte{}
	for i, v := range []string{"v1.0.0", "1.2.0", "v1.3.0-beta.1", "v2.0.0"} {
		mods[v] = testutil.Wasm("m", 100+i)
		upload(t, r, "math", v, mods[v])
	}
	for i, v := range []string{"v0.1.0-alpha", "v0.1.0-beta"} {
		mods[v] = testutil.Wasm("m", 200+i)
		upload(t, r, "pre", v, mods[v])
	}
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)

	tests := []struct{ name, body, wantVersion string }{
		{"math", `{"name":"math","version":""}`, "v2.0.0"},
		{"math", `{"name":"math"}`, "v2.0.0"},
		{"math", `{"name":"math","version":null}`, "v2.0.0"},
		{"math", `{"name":"math","version":"latest"}`, "v2.0.0"},
		{"math", `{"name":"math","version":"v1.2.0"}`, "1.2.0"},
		{"math", `{"name":"math","version":"1.0.0"}`, "v1.0.0"},
		{"math", `{"name":"math","version":"v1.3.0-beta.1"}`, "v1.3.0-beta.1"},
		{"math", `{"name":"math","version":"^1.0"}`, "1.2.0"},
		{"math", `{"name":"math","version":"~1.0.0"}`, "v1.0.0"},
		{"math", `{"name":"math","version":">=1.0.0 <2.0.0"}`, "1.2.0"},
		{"pre", `{"name":"pre","version":""}`, "v0.1.0-beta"},
		{"tiny", `{"name":"tiny","version":"v0.0.1"}`, "v0.0.1"},
	}
	for i, tt := range tests {
		m := c.roundTrip(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":%s}`, i, tt.body))
		want := mods[tt.wantVersion]
		if tt.name == "tiny" {
			want = tinyWasm
		}
		checkModule(t, expectKind(t, m, wire.TypeWasm, wire.CodeModule, float64(i)), tt.name, tt.wantVersion, want)
	}
	for i, body := range []string{`{"name":"math","version":"v9.9.9"}`, `{"name":"nope"}`, `{"name":"math","version":"^7"}`} {
		b := expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":%s}`, i, body)), wire.TypeWasm, wire.CodeModuleNotFound, float64(i))
		if b["error"] != wire.ErrCodeNotFound || b["message"] == "" {
			t.Fatalf("MODULE_NOT_FOUND body %v", b)
		}
	}
	for i, body := range []string{`{"name":"math","version":"not a version"}`, `{"name":"math.add"}`, `{"name":""}`, `{}`, `{"name":7}`} {
		expectError(t, c.roundTrip(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":%s}`, i, body)), wire.ErrCodeBadRequest, float64(i))
	}
}

func TestModuleLarge(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("m", 3<<20+1) // not a multiple of the chunk or of 3
	upload(t, r, "big", "v1.0.0", big)
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	checkModule(t, expectKind(t, c.roundTrip(`{"type":2,"code":1,"id":"x","body":{"name":"big"}}`), wire.TypeWasm, wire.CodeModule, "x"), "big", "v1.0.0", big)
	// The connection goes on after a large reply.
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":1}`), wire.TypeSession, wire.CodePong, 1.0)
}

// corruptBlob flips one byte of the stored blob of b, at offset off from
// the end.
func corruptBlob(t testing.TB, r *repo.Repo, b []byte, fromEnd int) {
	t.Helper()
	p := filepath.Join(r.Dir(), "blobs", "sha256", strings.TrimPrefix(digestOf(b), "sha256:"))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-fromEnd] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestModuleCorruptBeforeReply: a small module whose blob is corrupt is
// found bad before the reply begins: ERROR internal, and the connection
// goes on.
func TestModuleCorruptBeforeReply(t *testing.T) {
	r := newRepo(t)
	corruptBlob(t, r, tinyWasm, 1)
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	expectError(t, c.roundTrip(`{"type":2,"code":1,"id":1,"body":{"name":"tiny"}}`), wire.ErrCodeInternal, 1.0)
	expectKind(t, c.roundTrip(`{"type":0,"code":3,"id":2}`), wire.TypeSession, wire.CodePong, 2.0)
}

// TestModuleCorruptWhileStreaming: a large module whose blob is corrupt
// near its end is cut before the MODULE completes: the peer gets the
// reply's beginning, then the end of the stream, never a whole message.
func TestModuleCorruptWhileStreaming(t *testing.T) {
	for _, fromEnd := range []int{1, 300 << 10} {
		t.Run(fmt.Sprint(fromEnd), func(t *testing.T) {
			r := newRepo(t)
			big := testutil.Wasm("m", 1<<20)
			upload(t, r, "big", "v1.0.0", big)
			corruptBlob(t, r, big, fromEnd)
			ts := startServer(t, Config{Modules: r})
			c := dialRaw(t, ts.addr)
			c.send(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")
			got := c.expectEOF()
			if !bytes.HasPrefix(got, []byte(`{"type":2,"code":2,"id":1,"body":{`)) {
				t.Fatalf("the reply had not begun: %q", clip(got))
			}
			if bytes.HasSuffix(got, []byte(moduleSuffix[:len(moduleSuffix)-1])) {
				t.Fatalf("the reply holds its closing bytes")
			}
			if len(got) >= base64.StdEncoding.EncodedLen(len(big)) {
				t.Fatalf("%d bytes arrived: the whole binary", len(got))
			}
			ts.log.waitLog(t, `reason="module stream failed"`)
		})
	}
}

func TestList(t *testing.T) {
	r := newRepo(t)
	a, b := testutil.Wasm("m", 50), testutil.Wasm("m", 60)
	upload(t, r, "math", "v1.0.0", a)
	upload(t, r, "math", "v1.10.0", b)
	upload(t, r, "alpha", "0.1.0", a)
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)

	body := expectKind(t, c.roundTrip(`{"type":2,"code":4,"id":1}`), wire.TypeWasm, wire.CodeModules, 1.0)
	want := fmt.Sprintf(`{"modules":[`+
		`{"name":"alpha","versions":[{"version":"0.1.0","hash":%q,"size":50}]},`+
		`{"name":"math","versions":[{"version":"v1.10.0","hash":%q,"size":60},{"version":"v1.0.0","hash":%q,"size":50}]},`+
		`{"name":"tiny","versions":[{"version":"v0.0.1","hash":%q,"size":8}]}]}`, digestOf(a), digestOf(b), digestOf(a), tinyDigest)
	sameJSON(t, mustJSON(t, body), want)

	body = expectKind(t, c.roundTrip(`{"type":2,"code":4,"id":2,"body":{"name":"tiny"}}`), wire.TypeWasm, wire.CodeModules, 2.0)
	sameJSON(t, mustJSON(t, body), fmt.Sprintf(`{"modules":[{"name":"tiny","versions":[{"version":"v0.0.1","hash":%q,"size":8}]}]}`, tinyDigest))

	body = expectKind(t, c.roundTrip(`{"type":2,"code":4,"id":3,"body":{"name":"nope"}}`), wire.TypeWasm, wire.CodeModules, 3.0)
	sameJSON(t, mustJSON(t, body), `{"modules":[]}`)

	expectError(t, c.roundTrip(`{"type":2,"code":4,"id":4,"body":{"name":"Bad.Name"}}`), wire.ErrCodeBadRequest, 4.0)
	expectError(t, c.roundTrip(`{"type":2,"code":4,"id":5,"body":{"name":[]}}`), wire.ErrCodeBadRequest, 5.0)
}

// TestModuleReplyMemoryIsConstant: fetching a 16 MiB module allocates a
// small, fixed amount, not the module's size (client side here reads with
// a fixed buffer and allocates nothing).
func TestModuleReplyMemoryIsConstant(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("m", 16<<20)
	upload(t, r, "big", "v1.0.0", big)
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	buf := make([]byte, 64<<10)
	fetch := func() int {
		c.send(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")
		n := 0
		c.c.SetReadDeadline(time.Now().Add(ioTimeout))
		for {
			m, err := c.c.Read(buf)
			n += m
			if err != nil {
				t.Fatalf("after %d bytes: %v", n, err)
			}
			if m > 0 && buf[m-1] == '\n' {
				return n
			}
		}
	}
	fetch() // warm the pools
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := fetch()
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte reply allocated %d bytes", n, alloc)
	if n < base64.StdEncoding.EncodedLen(len(big)) {
		t.Fatalf("reply of %d bytes", n)
	}
	if alloc > 1<<20 {
		t.Fatalf("a 16 MiB module allocated %d bytes: not streamed", alloc)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestModuleChunkBoundaries: MODULE replies of sizes around the chunk size
// (the first chunk is read before the reply begins, the rest by the reader
// goroutine, the end may fall on a chunk's edge), back to back on one
// connection so that buffers and the reader are reused and stopped each
// time; and a corruption in the first byte of the second chunk, the first
// the reader goroutine verifies, is cut like any other.
func TestModuleChunkBoundaries(t *testing.T) {
	r := newRepo(t)
	sizes := []int{moduleChunk - 1, moduleChunk, moduleChunk + 1, 2 * moduleChunk, 3*moduleChunk + 5}
	mods := make([][]byte, len(sizes))
	for i, n := range sizes {
		mods[i] = testutil.Wasm(fmt.Sprint("c", i), n)
		upload(t, r, fmt.Sprint("c", i), "v1.0.0", mods[i])
	}
	ts := startServer(t, Config{Modules: r})
	c := dialRaw(t, ts.addr)
	for round := range 2 {
		for i := range sizes {
			id := float64(round*len(sizes) + i)
			body := expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":{"name":"c%d"}}`, int(id), i)), wire.TypeWasm, wire.CodeModule, id)
			checkModule(t, body, fmt.Sprint("c", i), "v1.0.0", mods[i])
		}
	}

	big := testutil.Wasm("edge", 3*moduleChunk)
	upload(t, r, "edge", "v1.0.0", big)
	corruptBlob(t, r, big, len(big)-moduleChunk)
	c2 := dialRaw(t, ts.addr)
	c2.send(`{"type":2,"code":1,"id":1,"body":{"name":"edge"}}` + "\n")
	got := c2.expectEOF()
	// The mismatch shows at the end of the bytes (a whole-blob digest): the
	// binary may have gone out in full, its closing bytes never.
	if !bytes.HasPrefix(got, []byte(`{"type":2,"code":2,"id":1,"body":{`)) || bytes.ContainsRune(got, '\n') ||
		bytes.HasSuffix(got, []byte(moduleSuffix[:len(moduleSuffix)-1])) {
		t.Fatalf("a corrupt module's reply completed or never began (%d bytes)", len(got))
	}
	ts.log.waitLog(t, `reason="module stream failed"`)
}
