package e2e

// Issue 16's control-API points, each reproduced against the real binary:
// foreign Host and Origin (1), stalled uploads and the caps (2), stalled
// downloads (17) and an oversize chunked upload (18).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// rawRequest sends one request on a new connection and reads the answer.
func rawRequest(t *testing.T, addr, method, path string, hdr map[string]string, body []byte) (int, map[string]any) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\n", method, path)
	if _, ok := hdr["Host"]; !ok {
		fmt.Fprintf(&b, "Host: %s\r\n", addr)
	}
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(body))
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	c.Write(body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestOriginGuard (issue 16, point 1): a request whose Host is not a
// loopback name on the daemon's port (DNS rebinding), or that carries a
// foreign Origin (a web page's cross-origin POST), is refused 403 before
// anything happens, with a token or without; the CLI's requests pass.
func TestOriginGuard(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	addr := st.ControlAddr
	_, port, _ := net.SplitHostPort(addr)
	mod := testutil.Wasm("rebound", 4096)

	refused := []struct {
		name, method, path string
		hdr                map[string]string
		code               string
	}{
		{"rebinding upload", "PUT", "/v1/modules/evil/9.9.9", map[string]string{"Host": "attacker.example:" + port, "Origin": "http://attacker.example:" + port}, "forbidden_host"},
		{"rebinding delete", "DELETE", "/v1/modules/evil/9.9.9", map[string]string{"Host": "attacker.example:" + port}, "forbidden_host"},
		{"rebinding status", "GET", "/v1/status", map[string]string{"Host": "attacker.example"}, "forbidden_host"},
		{"other port", "GET", "/v1/status", map[string]string{"Host": "127.0.0.1:1"}, "forbidden_host"},
		{"cross-origin gc", "POST", "/v1/gc", map[string]string{"Origin": "http://attacker.example"}, "forbidden_origin"},
		{"cross-origin verify", "POST", "/v1/verify", map[string]string{"Origin": "https://attacker.example"}, "forbidden_origin"},
		{"null origin", "POST", "/v1/gc", map[string]string{"Origin": "null"}, "forbidden_origin"},
		{"loopback origin, other port", "PUT", "/v1/modules/evil/9.9.9", map[string]string{"Origin": "http://127.0.0.1:1"}, "forbidden_origin"},
	}
	for _, c := range refused {
		var body []byte
		if c.method == "PUT" {
			body = mod
		}
		status, out := rawRequest(t, addr, c.method, c.path, c.hdr, body)
		if status != http.StatusForbidden || out["error"] != c.code {
			t.Errorf("%s: %d %v, want 403 %s", c.name, status, out, c.code)
		}
	}
	if mods := e.listJSON(); len(mods) != 0 {
		t.Errorf("a refused request stored a module: %v", mods)
	}

	// The daemon's own origin and loopback names pass.
	for _, hdr := range []map[string]string{
		{"Host": "localhost:" + port, "Origin": "http://localhost:" + port},
		{"Host": "127.0.0.1:" + port},
		{"Host": "127.9.9.9:" + port},
	} {
		if status, out := rawRequest(t, addr, "GET", "/v1/status", hdr, nil); status != http.StatusOK {
			t.Errorf("%v: %d %v", hdr, status, out)
		}
	}

	// With a token the guard holds even for a request that has the token.
	et := newEnv(t)
	tok := et.secret("token", []byte("guard-token\n"))
	stt := et.start("--token-file", tok)
	_, tport, _ := net.SplitHostPort(stt.ControlAddr)
	status, out := rawRequest(t, stt.ControlAddr, "PUT", "/v1/modules/evil/9.9.9",
		map[string]string{"Host": "attacker.example:" + tport, "Authorization": "Bearer guard-token"}, mod)
	if status != http.StatusForbidden || out["error"] != "forbidden_host" {
		t.Errorf("rebinding with the token: %d %v", status, out)
	}
	status, out = rawRequest(t, stt.ControlAddr, "POST", "/v1/gc",
		map[string]string{"Origin": "http://attacker.example", "Authorization": "Bearer guard-token"}, nil)
	if status != http.StatusForbidden || out["error"] != "forbidden_origin" {
		t.Errorf("cross-origin with the token: %d %v", status, out)
	}
	et.gpmd("wasm", "upload", "--name", "fine", "--version", "1.0.0", "--file", et.file("m.wasm", mod))
}

// startUpload opens a connection and sends an upload's head and the first
// sent bytes of a body of total bytes, then leaves it stalled.
func startUpload(t *testing.T, addr, name string, total, sent int) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	body := testutil.Wasm(name, total)
	fmt.Fprintf(c, "PUT /v1/modules/%s/1.0.0 HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", name, addr, total)
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(body[:sent]); err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return c
}

// readBusy reads an answer from c and reports whether it is 503 busy.
func readBusy(c net.Conn) (bool, string) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode == http.StatusServiceUnavailable && out["error"] == "busy", fmt.Sprintf("%d %v", resp.StatusCode, out)
}

// TestStalledUploadsAreCut (issue 16, point 2): uploads that send half
// their body and stall are cut after --control-stall-timeout, and the
// memory they held is the daemon's again (a second flood needs none more);
// uploads over --control-max-uploads and connections over
// --control-max-conns are answered 503 busy at once. Before, 1,000 such
// uploads held 1 GB for as long as their clients liked.
func TestStalledUploadsAreCut(t *testing.T) {
	const (
		uploads = 24
		conns   = 40
		stall   = 2 * time.Second
		total   = 1 << 20
	)
	e := newEnv(t)
	st := e.start("--control-stall-timeout", stall.String(), "--control-max-uploads", strconv.Itoa(uploads), "--control-max-conns", strconv.Itoa(conns))
	base := testutil.RSS(t, st.PID)

	var peak int64
	for wave := 1; wave <= 2; wave++ {
		began := time.Now()
		held := make([]net.Conn, 0, uploads)
		for i := range uploads {
			held = append(held, startUpload(t, st.ControlAddr, fmt.Sprintf("stall%d", i), total, total/2))
		}
		// Let the daemon take in what was sent.
		time.Sleep(300 * time.Millisecond)
		rss := testutil.RSS(t, st.PID)
		t.Logf("wave %d: RSS %d MiB with %d stalled uploads (base %d MiB)", wave, rss>>20, uploads, base>>20)
		if wave == 1 {
			peak = rss
		} else if rss > peak+16<<20 {
			t.Errorf("wave 2 grew RSS to %d MiB (wave 1: %d MiB): the first wave's memory did not come back", rss>>20, peak>>20)
		}

		// Over the upload cap: 503 busy, no body needed.
		extra := startUpload(t, st.ControlAddr, "extra", total, 8)
		if ok, got := readBusy(extra); !ok {
			t.Errorf("upload over the cap: %s, want 503 busy", got)
		}
		extra.Close()
		// Over the connection cap: 503 busy before any request.
		var idle []net.Conn
		for range conns - uploads {
			c, err := net.Dial("tcp", st.ControlAddr)
			if err != nil {
				t.Fatal(err)
			}
			idle = append(idle, c)
		}
		time.Sleep(100 * time.Millisecond)
		over, err := net.Dial("tcp", st.ControlAddr)
		if err != nil {
			t.Fatal(err)
		}
		if ok, got := readBusy(over); !ok {
			t.Errorf("connection over the cap: %s, want 503 busy", got)
		}
		over.Close()
		for _, c := range idle {
			c.Close()
		}

		// Each stalled upload is cut: its connection ends (an answer or
		// EOF) within the stall timeout and a margin.
		var wg sync.WaitGroup
		for _, c := range held {
			wg.Go(func() {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(stall + 10*time.Second))
				_, err := io.Copy(io.Discard, c)
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("a stalled upload was not cut after %s", time.Since(began).Round(time.Millisecond))
				}
			})
		}
		wg.Wait()
		if d := time.Since(began); d < stall {
			t.Errorf("stalled uploads cut after %s, before the %s timeout", d, stall)
		}
	}
	// Nothing stays in ingest/, and the daemon still takes uploads.
	e.gpmd("wasm", "upload", "--name", "after", "--version", "1.0.0", "--file", e.file("a.wasm", testutil.Wasm("after", 4096)))
	testutil.WaitFor(t, 10*time.Second, "ingest/ emptied", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.dir, "modules", "ingest"))
		return len(ents) == 0
	})
	log, _ := os.ReadFile(st.LogFile)
	if !strings.Contains(string(log), "upload cut: the client sent no byte for 2s") {
		t.Errorf("the log does not say why uploads were cut")
	}
}

// TestStalledDownloadsAreCut (issue 16, point 17): downloads whose clients
// never read are cut after --control-stall-timeout instead of holding
// their buffers for ever.
func TestStalledDownloadsAreCut(t *testing.T) {
	const (
		size  = 48 << 20
		stall = 2 * time.Second
	)
	e := newEnv(t)
	st := e.start("--control-stall-timeout", stall.String())
	e.gpmd("wasm", "upload", "--name", "big", "--version", "1.0.0", "--file", e.file("big.wasm", testutil.Wasm("big", size)))

	var conns []net.Conn
	for range 8 {
		c, err := net.Dial("tcp", st.ControlAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A small receive buffer: what the client never reads stays
		// on the daemon's side.
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		fmt.Fprintf(c, "GET /v1/modules/big/1.0.0/content HTTP/1.1\r\nHost: %s\r\n\r\n", st.ControlAddr)
		conns = append(conns, c)
	}
	time.Sleep(stall + 3*time.Second)
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("download %d: still open after %d bytes", i, n)
		}
		if n >= size {
			t.Errorf("download %d: got all %d bytes after stalling %s: not cut", i, n, stall+3*time.Second)
		}
	}
	log, _ := os.ReadFile(st.LogFile)
	if !strings.Contains(string(log), "download cut: the client took no byte for 2s") {
		t.Errorf("the log does not say why downloads were cut")
	}
	e.mustGet("big", "1.0.0", testutil.Wasm("big", size))
}

// TestOversizeChunkedUploadStops (issue 16, point 18): a chunked upload
// (no Content-Length) over --max-module-size is answered 413 and the
// daemon stops reading at the limit: what the client manages to send is
// the limit plus a bounded slack (socket buffers), not the limit twice over
// as when the daemon drained the rest; nothing stays in ingest/.
func TestOversizeChunkedUploadStops(t *testing.T) {
	const (
		limit = 32 << 20
		body  = limit + 64<<20
		slack = 16 << 20
	)
	e := newEnv(t)
	st := e.start("--max-module-size", "32MiB")
	c, err := net.Dial("tcp", st.ControlAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "PUT /v1/modules/huge/1.0.0 HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n", st.ControlAddr)

	type answer struct {
		status int
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			got <- answer{err: err}
			return
		}
		resp.Body.Close()
		got <- answer{status: resp.StatusCode}
	}()
	chunk := make([]byte, 64<<10)
	copy(chunk, testutil.TinyWasm)
	var sent int64
	c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	for sent < body {
		if _, err := fmt.Fprintf(c, "%x\r\n", len(chunk)); err != nil {
			break
		}
		n, err := c.Write(chunk)
		sent += int64(n)
		if err != nil {
			break
		}
		if _, err := io.WriteString(c, "\r\n"); err != nil {
			break
		}
		chunk[0], chunk[1], chunk[2], chunk[3] = 0, 0, 0, 0 // only the first chunk starts the module
	}
	a := <-got
	if a.err != nil || a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("answer: %d %v, want 413", a.status, a.err)
	}
	t.Logf("the client sent %d MiB of a %d MiB body to a %d MiB limit", sent>>20, body>>20, limit>>20)
	if sent > limit+slack {
		t.Errorf("the daemon read on past the limit: the client sent %d bytes, limit %d + slack %d", sent, limit, slack)
	}
	testutil.WaitFor(t, 10*time.Second, "ingest/ emptied", func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.dir, "modules", "ingest"))
		return len(ents) == 0
	})
}

// TestOversizeStdinUpload (issue 16, point 18, from the CLI): a chunked
// upload from standard input over the limit exits 2 with "too large" in
// one line, whether the CLI read the daemon's 413 or saw the connection
// close (the daemon no longer reads the rest of the body).
func TestOversizeStdinUpload(t *testing.T) {
	e := newEnv(t)
	e.start("--max-module-size", "1MiB")
	big := testutil.Wasm("stdin-big", 20<<20)
	for i := range 3 {
		r := e.run(big, "wasm", "upload", "--name", "big", "--version", fmt.Sprintf("1.0.%d", i), "--file", "-")
		if line := oneLine(t, r); r.code != 2 || !strings.Contains(line, "too large") {
			t.Errorf("%v", r)
		}
	}
	if mods := e.listJSON(); len(mods) != 0 {
		t.Errorf("stored: %v", mods)
	}
}
