package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/cmd/cli"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestBadInput: each bad input gets a clear one-line message and a
// non-zero exit status, the daemon keeps serving, and no stored module
// changes.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.start("--max-module-size", "64KiB")
	tiny := e.file("tiny.wasm", testutil.TinyWasm)
	e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny)
	before := e.listJSON()
	blobsBefore := e.blobFiles()

	other := e.file("other.wasm", testutil.Wasm("other", 100))
	text := e.file("notes.txt", []byte("hello, this is not WebAssembly\n"))
	// Under the 64 KiB limit, so refused for its bytes, and larger than
	// what a socket buffers: the daemon must read the rest for the CLI
	// to get its answer.
	bigText := e.file("big.txt", bytes.Repeat([]byte("all work and no play\n"), 60<<10/21))
	empty := e.file("empty.wasm", nil)
	tooBig := e.file("big.wasm", testutil.Wasm("big", 100<<10))
	dir := t.TempDir()

	cases := []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		want  string // in the one line on stderr
	}{
		{"no flags", nil, []string{"wasm", "upload"}, 2, "missing --name, --version, --file"},
		{"no file flag", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0"}, 2, "missing --file"},
		{"no version flag", nil, []string{"wasm", "upload", "--name", "x", "--file", tiny}, 2, "missing --version"},
		{"file does not exist", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", filepath.Join(dir, "nope.wasm")}, 2, "nope.wasm does not exist"},
		{"directory", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", dir}, 2, "is a directory"},
		{"not wasm", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", text}, 2, "not a WebAssembly module"},
		{"not wasm, large", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", bigText}, 2, "not a WebAssembly module"},
		{"not wasm on stdin", []byte("#!/bin/sh\necho hi\n"), []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", "-"}, 2, "a script"},
		{"empty file", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", empty}, 2, "is empty"},
		{"empty stdin", []byte{}, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", "-"}, 2, "empty module"},
		{"too large", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", tooBig}, 2, "too large"},
		{"too large on stdin", testutil.Wasm("big", 100<<10), []string{"wasm", "upload", "--name", "x", "--version", "1.0.0", "--file", "-"}, 2, "too large"},
		{"bad name: capitals", nil, []string{"wasm", "upload", "--name", "Math", "--version", "1.0.0", "--file", tiny}, 2, `module name "Math"`},
		{"bad name: dot", nil, []string{"wasm", "upload", "--name", "math.add", "--version", "1.0.0", "--file", tiny}, 2, `module name "math.add"`},
		{"bad name: path", nil, []string{"wasm", "upload", "--name", "../../etc", "--version", "1.0.0", "--file", tiny}, 2, "module name"},
		{"bad name: dot dot", nil, []string{"wasm", "upload", "--name", "..", "--version", "1.0.0", "--file", tiny}, 2, "module name"},
		{"bad version: short", nil, []string{"wasm", "upload", "--name", "x", "--version", "1.2", "--file", tiny}, 2, `version "1.2"`},
		{"bad version: word", nil, []string{"wasm", "upload", "--name", "x", "--version", "latest", "--file", tiny}, 2, `version "latest"`},
		{"same version, other bytes", nil, []string{"wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", other}, 5, "tiny@v0.0.1"},
		{"same version by semver, other bytes", nil, []string{"wasm", "upload", "--name", "tiny", "--version", "0.0.1", "--file", other}, 5, "tiny@0.0.1"},
		{"get: no such module", nil, []string{"wasm", "get", "nosuch"}, 4, "nosuch"},
		{"get: no such version", nil, []string{"wasm", "get", "tiny@v9.9.9"}, 4, "tiny"},
		{"get: no version meets the constraint", nil, []string{"wasm", "get", "tiny@^2"}, 4, "tiny"},
		{"get: bad constraint", nil, []string{"wasm", "get", "tiny@not a version!"}, 2, "not a version!"},
		{"get: nothing after @", nil, []string{"wasm", "get", "tiny@"}, 2, "nothing after @"},
		{"get: no argument", nil, []string{"wasm", "get"}, 2, "takes one argument"},
		{"rm: no such version", nil, []string{"wasm", "rm", "tiny@v0.0.2"}, 4, "tiny"},
		{"rm: no version given", nil, []string{"wasm", "rm", "tiny"}, 2, "NAME@VERSION"},
		{"rm: a constraint", nil, []string{"wasm", "rm", "tiny@^0.0"}, 2, "^0.0"},
		{"list: no such module", nil, []string{"wasm", "list", "nosuch"}, 4, "nosuch"},
		{"list: bad name", nil, []string{"wasm", "list", "No Such"}, 2, "module name"},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown wasm command", nil, []string{"wasm", "frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"wasm", "list", "--frob"}, 2, "unknown flag: --frob"},
		{"bad output format", nil, []string{"wasm", "list", "-o", "yaml"}, 2, "unknown output format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdin := c.stdin
			r := e.run(stdin, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d; %v", r.code, c.code, r)
			}
			if line := oneLine(t, r); !strings.Contains(line, c.want) {
				t.Fatalf("stderr %q lacks %q", line, c.want)
			}
			if len(c.args) > 1 && c.args[1] == "upload" && r.stdout != "" {
				t.Errorf("a failed upload printed %q on stdout", r.stdout)
			}
		})
	}

	// The same bytes again succeed and change nothing.
	r := e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny)
	if !strings.Contains(r.stdout, "Module Uploaded Successfully!") {
		t.Fatalf("same bytes again: %v", r)
	}

	// Still serving, and nothing stored changed.
	e.gpmd("status")
	if after := e.listJSON(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("modules changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := e.gpmd("wasm", "get", "tiny@v0.0.1").stdout; got != string(testutil.TinyWasm) {
		t.Fatal("tiny@v0.0.1 bytes changed")
	}
	// Refused uploads may leave an unreferenced blob (garbage for gc,
	// issue 5) when the bytes were whole and valid, as for the conflict;
	// never one for bytes that were refused as they came.
	for _, b := range e.blobFiles() {
		if !contains(blobsBefore, b) {
			data, _ := os.ReadFile(filepath.Join(e.dir, "modules", "blobs", "sha256", b))
			if !bytes.Equal(data, testutil.Wasm("other", 100)) {
				t.Errorf("a refused upload left blob %s of %d bytes", b, len(data))
			}
		}
	}
}

// blobFiles lists the blob files of the store, sorted.
func (e *env) blobFiles() []string {
	entries, _ := os.ReadDir(filepath.Join(e.dir, "modules", "blobs", "sha256"))
	var out []string
	for _, en := range entries {
		out = append(out, en.Name())
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDaemonDown: every command that needs the daemon says it is not
// running, in one line, with exit status 3.
func TestDaemonDown(t *testing.T) {
	e := newEnv(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	e.vars = append(e.vars, "GPMD_CONTROL_ADDR="+addr)
	tiny := e.file("tiny.wasm", testutil.TinyWasm)
	want := "gpmd is not running at " + addr + " (start it with: gpmd start)"
	for _, args := range [][]string{
		{"status"},
		{"status", "-o", "json"},
		{"nodes"},
		{"wasm", "list"},
		{"wasm", "list", "tiny"},
		{"wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny},
		{"wasm", "get", "tiny"},
		{"wasm", "get", "tiny", "-o", filepath.Join(t.TempDir(), "x.wasm")},
		{"wasm", "rm", "tiny@v0.0.1"},
	} {
		r := e.run(nil, args...)
		if r.code != 3 {
			t.Errorf("exit %d, want 3; %v", r.code, r)
			continue
		}
		if got := oneLine(t, r); got != want {
			t.Errorf("%v: stderr %q, want %q", args, got, want)
		}
	}
	r := e.run(nil, "kill")
	if r.code != 3 || oneLine(t, r) != "gpmd is not running on "+e.dir+" (start it with: gpmd start)" {
		t.Errorf("kill: %v", r)
	}
	// version needs no daemon. (Importing cli here also ties this
	// package's test cache to the CLI's source: the binary under test is
	// built from it.)
	if r := e.gpmd("version"); !strings.HasPrefix(r.stdout, "gpmd "+cli.Version+" (") {
		t.Errorf("version: %v", r)
	}
}
