package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestNodesAndGMP: a GVM registered over GMP shows in `gpmd nodes` and
// `gpmd status`, and leaves both when its connection ends; a module
// uploaded with the CLI comes back over GMP.
func TestNodesAndGMP(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", e.file("tiny.wasm", testutil.TinyWasm))

	r := e.gpmd("nodes")
	if r.stdout != "" || !strings.Contains(r.stderr, "no live nodes") {
		t.Fatalf("nodes before any registration: %v", r)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Register(ctx, "node-1", "a1", 40001, true); err != nil {
		t.Fatal(err)
	}
	info, data, err := c.ModuleBytes(ctx, "tiny", "")
	if err != nil || !bytes.Equal(data, testutil.TinyWasm) || info.Hash != testutil.TinyDigest || info.Version != "v0.0.1" {
		t.Fatalf("MODULE over GMP: %+v %x %v", info, data, err)
	}

	r = e.gpmd("nodes")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("nodes:\n%s", r.stdout)
	}
	for _, f := range []string{"node-1", "a1", "127.0.0.1", "40001"} {
		if !strings.Contains(lines[1], f) {
			t.Errorf("nodes row lacks %q: %s", f, lines[1])
		}
	}
	var nl api.NodeList
	if err := json.Unmarshal([]byte(e.gpmd("nodes", "-o", "json").stdout), &nl); err != nil {
		t.Fatal(err)
	}
	nodes := nl.Nodes
	if len(nodes) != 1 || nodes[0].Name != "node-1" || nodes[0].ID != "a1" || nodes[0].Address != "127.0.0.1" || nodes[0].Port != 40001 || nodes[0].Since.IsZero() {
		t.Fatalf("nodes -o json: %+v", nodes)
	}
	var s api.Status
	json.Unmarshal([]byte(e.gpmd("status", "-o", "json").stdout), &s)
	if s.Nodes != 1 || s.GMPConnections != 1 {
		t.Errorf("status with one node: nodes %d, connections %d", s.Nodes, s.GMPConnections)
	}

	c.Close()
	if !testutil.Eventually(5*time.Second, func() bool {
		var nl api.NodeList
		json.Unmarshal([]byte(e.gpmd("nodes", "-o", "json").stdout), &nl)
		return nl.Nodes != nil && len(nl.Nodes) == 0
	}) {
		t.Fatal("node still listed 5s after its connection closed")
	}
}

// TestCompletion: module names complete from the daemon, and completion
// stays silent (exit 0, nothing) when the daemon is down.
func TestCompletion(t *testing.T) {
	e := newEnv(t)
	e.start()
	for _, m := range []string{"math", "matrix"} {
		e.gpmd("wasm", "upload", "--name", m, "--version", "1.0.0", "--file", e.file(m+".wasm", testutil.TinyWasm))
	}
	e.gpmd("wasm", "upload", "--name", "math", "--version", "1.1.0", "--file", e.file("m11.wasm", testutil.Wasm("m11", 10)))

	r := e.gpmd("__complete", "wasm", "get", "mat")
	if !strings.Contains(r.stdout, "math@\n") || !strings.Contains(r.stdout, "matrix@\n") {
		t.Errorf("names:\n%s", r.stdout)
	}
	r = e.gpmd("__complete", "wasm", "rm", "math@")
	if !strings.Contains(r.stdout, "math@1.1.0\n") || !strings.Contains(r.stdout, "math@1.0.0\n") || strings.Contains(r.stdout, "matrix") {
		t.Errorf("versions:\n%s", r.stdout)
	}
	r = e.gpmd("__complete", "wasm", "list", "")
	if !strings.Contains(r.stdout, "math\n") || !strings.Contains(r.stdout, "matrix\n") {
		t.Errorf("list names:\n%s", r.stdout)
	}

	e.gpmd("kill")
	r = e.run(nil, "__complete", "wasm", "get", "mat")
	if r.code != 0 || strings.Contains(r.stdout, "math") {
		t.Errorf("completion with the daemon down: %v", r)
	}
}
