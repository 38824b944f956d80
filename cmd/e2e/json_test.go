package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// TestJSONVocabulary: every command's -o json, the control API and
// ghost.modules.json speak one vocabulary (docs/json.md): a top-level
// object that names its lists, lists that are [] and never null (no null
// anywhere), "digest" for a module's sha256 (never GMP's "hash", except
// the early-gpmd field ghost.modules.json keeps for early readers).
func TestJSONVocabulary(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.gpmd("wasm", "upload", "--name", "math", "--version", "1.0.0", "--file", e.file("m.wasm", testutil.Wasm("m", 200)))
	e.gpmd("wasm", "upload", "--name", "calc", "--version", "0.1.0", "--file", e.file("c.wasm", testutil.Wasm("c", 300)))
	backupDir := filepath.Join(t.TempDir(), "backup")

	// The keys each command's object must hold; those in lists must be
	// JSON arrays.
	type want struct {
		args  []string
		keys  []string
		lists []string
		code  int
	}
	online := []want{
		{args: []string{"status"}, keys: []string{"running", "pid", "version", "control_addr", "control_socket", "gmp_addr", "data_dir", "modules", "versions", "blobs", "blob_bytes", "nodes", "gmp_connections", "max_module_size", "uptime_seconds", "started"}},
		{args: []string{"wasm", "list"}, keys: []string{"modules"}, lists: []string{"modules"}},
		{args: []string{"wasm", "list", "math"}, keys: []string{"modules"}, lists: []string{"modules"}},
		{args: []string{"nodes"}, keys: []string{"nodes", "connections"}, lists: []string{"nodes"}},
		{args: []string{"verify"}, keys: []string{"versions", "blobs", "bytes_hashed", "problems", "garbage", "garbage_bytes"}, lists: []string{"problems", "garbage"}},
		{args: []string{"verify", "--deep"}, keys: []string{"versions", "blobs", "bytes_hashed", "problems", "garbage", "garbage_bytes"}, lists: []string{"problems", "garbage"}},
		{args: []string{"wasm", "inspect", "math"}, keys: []string{"name", "version", "digest", "size", "created", "kind", "imports", "exports", "functions"}, lists: []string{"imports", "exports"}},
		{args: []string{"wasm", "check", "math@1.0.0"}, keys: []string{"name", "version", "digest", "size", "created", "valid"}},
		{args: []string{"gc", "--dry-run"}, keys: []string{"dry_run", "removed", "bytes", "leftovers"}, lists: []string{"removed", "leftovers"}},
		{args: []string{"gc"}, keys: []string{"dry_run", "removed", "bytes", "leftovers"}, lists: []string{"removed", "leftovers"}},
		{args: []string{"backup", "--to", backupDir}, keys: []string{"to", "versions", "blobs", "bytes"}},
		{args: []string{"import", "--from", earlyStore(t)}, keys: []string{"imported", "refused"}, lists: []string{"imported", "refused"}},
	}
	for _, w := range online {
		checkJSONCommand(t, e, w.args, w.keys, w.lists, w.code)
	}
	// A module list's versions are a list too, with digest, never hash.
	var ml struct {
		Modules []map[string]any `json:"modules"`
	}
	e.jsonOf(&ml, "wasm", "list", "-o", "json")
	for _, m := range ml.Modules {
		vs, ok := m["versions"].([]any)
		if !ok || len(vs) == 0 {
			t.Fatalf("module %v: versions is not a non-empty list", m)
		}
		if _, ok := vs[0].(map[string]any)["digest"]; !ok {
			t.Errorf("version %v has no digest", vs[0])
		}
	}

	// The control API: the same shapes, over the socket.
	hc := unixHTTP(filepath.Join(e.dir, conf.SocketFile))
	for path, lists := range map[string][]string{
		"/v1/status":                  nil,
		"/v1/modules":                 {"modules"},
		"/v1/nodes":                   {"nodes"},
		"/v1/modules/math":            {"versions"},
		"/v1/modules/math/latest":     nil,
		"/v1/modules/math/1.0.0":      nil,
		"/v1/modules/nope":            nil,
		"/v1/modules/math/9.9.9":      nil,
		"/v1/no-such-endpoint/at-all": nil,
	} {
		resp, err := hc.Get("http://" + api.SocketHost + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		obj := checkJSONObject(t, "GET "+path, body, lists)
		if resp.StatusCode != http.StatusOK {
			if _, ok := obj["error"].(string); !ok {
				t.Errorf("GET %s: %d without an error code: %s", path, resp.StatusCode, body)
			}
		}
	}

	// ghost.modules.json names each version's digest.
	mirror, err := os.ReadFile(filepath.Join(e.dir, conf.ModulesDir, "ghost.modules.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]struct {
		Versions map[string]map[string]any `json:"versions"`
	}
	if err := json.Unmarshal(mirror, &file); err != nil {
		t.Fatal(err)
	}
	for name, m := range file {
		for v, fields := range m.Versions {
			d, _ := fields["digest"].(string)
			if _, err := digest.Parse(d); err != nil {
				t.Errorf("ghost.modules.json %s@%s: digest %q", name, v, d)
			}
		}
	}

	// Down: status still prints an object; offline commands too. The
	// address is a free port of this test's: a gpmd on the machine's
	// default ports must not answer for this test's stopped daemon.
	e.gpmd("kill")
	e.vars = append(e.vars, "GPMD_CONTROL_ADDR="+fmt.Sprintf("127.0.0.1:%d", freePort(t)))
	checkJSONCommand(t, e, []string{"status"}, []string{"running", "data_dir"}, nil, 3)
	checkJSONCommand(t, e, []string{"rebuild-index"}, []string{"healthy", "rebuilt", "versions"}, nil, 0)
	checkJSONCommand(t, e, []string{"rebuild-index", "--force"}, []string{"rebuilt", "bad_blobs", "lost", "imported", "verify"}, []string{"bad_blobs", "lost"}, 0)
	e2 := newEnv(t)
	checkJSONCommand(t, e2, []string{"restore", "--from", backupDir}, []string{"source", "blobs", "bytes", "bad_blobs", "lost", "verify"}, []string{"bad_blobs", "lost"}, 0)
}

// checkJSONCommand runs args with -o json and checks its output: exit
// status code, one object with keys, lists that are arrays, no null.
func checkJSONCommand(t *testing.T, e *env, args, keys, lists []string, code int) {
	t.Helper()
	r := e.run(nil, append(append([]string{}, args...), "-o", "json")...)
	if r.code != code {
		t.Errorf("%v", r)
		return
	}
	obj := checkJSONObject(t, strings.Join(args, " ")+" -o json", []byte(r.stdout), lists)
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s -o json: no %q in %s", strings.Join(args, " "), k, r.stdout)
		}
	}
}

// checkJSONObject parses data as one JSON object whose lists are arrays,
// with no null anywhere and no "hash" key.
func checkJSONObject(t *testing.T, what string, data []byte, lists []string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		t.Errorf("%s: not a JSON object (%v): %s", what, err, data)
		return nil
	}
	for _, k := range lists {
		if _, ok := obj[k].([]any); !ok {
			t.Errorf("%s: %q is not a list: %s", what, k, data)
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case nil:
			t.Errorf("%s: null at %s", what, path)
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if k == "hash" {
					t.Errorf("%s: %s.hash: GPMD's own formats say digest", what, path)
				}
				walk(path+"."+k, v[k])
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("$", obj)
	return obj
}

// earlyStore is an early gpmd's store of one module, for import.
func earlyStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	data := testutil.Wasm("early", 400)
	if err := os.WriteFile(filepath.Join(dir, "early-v0.0.1.wasm"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mirror := fmt.Sprintf(`{"early":{"name":"early","versions":{"v0.0.1":{"version":"v0.0.1","file":"early-v0.0.1.wasm","hash":%q}}}}`, digest.FromBytes(data).Encoded())
	if err := os.WriteFile(filepath.Join(dir, "ghost.modules.json"), []byte(mirror), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
