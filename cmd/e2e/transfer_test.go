package e2e

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// TestLargeTransfers: a module over the 8 MiB progress threshold goes up
// from a file and from standard input and comes back byte for byte; with
// standard error piped there is no progress bar. A large file that is not
// WebAssembly is refused with the daemon's message, not a reset.
func TestLargeTransfers(t *testing.T) {
	e := newEnv(t)
	e.start()
	big := testutil.Wasm("large", 9<<20)
	path := e.file("large.wasm", big)
	r := e.gpmd("wasm", "upload", "--name", "large", "--version", "1.0.0", "--file", path)
	if r.stderr != "" {
		t.Errorf("upload with stderr piped wrote to stderr (a progress bar?): %q", r.stderr)
	}
	want := digest.FromBytes(big).String()
	if !strings.Contains(r.stdout, "large@1.0.0 "+want) {
		t.Fatalf("upload printed %q", r.stdout)
	}
	r = e.run(big, "wasm", "upload", "--name", "large", "--version", "1.0.1", "--file", "-")
	if r.code != 0 || r.stderr != "" || !strings.Contains(r.stdout, "large@1.0.1 "+want) {
		t.Fatalf("upload from stdin: %v", r)
	}
	out := filepath.Join(t.TempDir(), "large.wasm")
	e.gpmd("wasm", "get", "large@1.0.0", "-o", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatalf("get -o: %d bytes back, %d sent (or different)", len(got), len(big))
	}
	if got := e.gpmd("wasm", "get", "large@1.0.1").stdout; got != string(big) {
		t.Fatalf("get to stdout: %d bytes back, %d sent (or different)", len(got), len(big))
	}

	// 16 MiB of text: refused for what it is, the CLI reads the answer.
	text := e.file("big.txt", bytes.Repeat([]byte("not WebAssembly at all\n"), 16<<20/23))
	r = e.run(nil, "wasm", "upload", "--name", "large", "--version", "2.0.0", "--file", text)
	if r.code != 2 || !strings.Contains(oneLine(t, r), "not a WebAssembly module") {
		t.Fatalf("large text upload: %v", r)
	}
	e.gpmd("status")
}

// TestCorruptBlobNeverHandedOut: a blob changed on disk behind gpmd's back
// is never handed out as the module: a small one is refused before a byte
// goes out, a large one is cut off before its last byte; get writes no
// file and nothing to standard output; the daemon keeps serving the rest.
func TestCorruptBlobNeverHandedOut(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	small := testutil.Wasm("small", 1000)
	large := testutil.Wasm("large", 1<<20)
	good := testutil.Wasm("good", 5000)
	for name, data := range map[string][]byte{"small": small, "large": large, "good": good} {
		e.gpmd("wasm", "upload", "--name", name, "--version", "1.0.0", "--file", e.file(name+".wasm", data))
	}
	corrupt := func(data []byte, at int) {
		p := filepath.Join(e.dir, "modules", "blobs", "sha256", digest.FromBytes(data).Encoded())
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{data[at] ^ 0xff}, int64(at)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	corrupt(small, len(small)-1)
	corrupt(large, len(large)/2)

	for _, name := range []string{"small", "large"} {
		out := filepath.Join(t.TempDir(), name+".wasm")
		r := e.run(nil, "wasm", "get", name, "-o", out)
		if r.code == 0 {
			t.Fatalf("get of corrupt %s succeeded: %v", name, r)
		}
		line := oneLine(t, r)
		if !strings.Contains(line, "corrupt") && !strings.Contains(line, "broke off") {
			t.Errorf("get %s: %q", name, line)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("get of corrupt %s left %s (%v)", name, out, err)
		}
		if parts, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.part")); len(parts) > 0 {
			t.Errorf("get of corrupt %s left %v", name, parts)
		}
		r = e.run(nil, "wasm", "get", name)
		if r.code == 0 || r.stdout != "" {
			t.Errorf("get of corrupt %s to stdout: exit %d, %d bytes out", name, r.code, len(r.stdout))
		}
	}

	// Over raw HTTP: the large one is announced, then cut short.
	resp, err := http.Get("http://" + st.ControlAddr + "/v1/modules/large/1.0.0/content")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) || int64(len(got)) >= resp.ContentLength {
		t.Errorf("raw GET of corrupt large: status %d, %d of %d bytes, err %v", resp.StatusCode, len(got), resp.ContentLength, err)
	}
	// The small one is refused before any byte: a JSON 500 "corrupt".
	resp, err = http.Get("http://" + st.ControlAddr + "/v1/modules/small/1.0.0/content")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), `"error":"corrupt"`) {
		t.Errorf("raw GET of corrupt small: %d %s", resp.StatusCode, body)
	}

	if got := e.gpmd("wasm", "get", "good").stdout; got != string(good) {
		t.Error("an intact module was affected")
	}
}
