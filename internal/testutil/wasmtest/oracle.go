package wasmtest

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// nodeScript prints what V8 sees of a module's imports and exports.
const nodeScript = `const fs = require("fs");
WebAssembly.compile(fs.readFileSync(process.argv[1])).then((m) => {
  process.stdout.write(JSON.stringify({imports: WebAssembly.Module.imports(m), exports: WebAssembly.Module.exports(m)}));
}).catch((e) => { console.error(String(e)); process.exit(1); });`

// NodeView is what node's WebAssembly.Module.imports() and exports()
// report of a module: the independent oracle of the parser's record.
type NodeView struct {
	Imports []struct{ Module, Name, Kind string } `json:"imports"`
	Exports []struct{ Name, Kind string }         `json:"exports"`
}

// NodeKind is the JS API's spelling of an extern kind as wasm.Info spells
// it (func → function).
var NodeKind = map[string]string{"func": "function", "table": "table",
	"memory": "memory", "global": "global", "tag": "tag"}

// AskNode runs node on the module at path and returns what V8 reports,
// failing the test (never skipping it) when node is missing or refuses the
// module.
func AskNode(t testing.TB, path string) NodeView {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed for the oracle: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", "--experimental-wasm-extended-const", "-e", nodeScript, path).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node on %s: %v %s", path, err, stderr)
	}
	var v NodeView
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("node's answer: %v", err)
	}
	return v
}

// Lines are the view's imports as "module name kind" and exports as
// "name kind", in order, for comparing with a record.
func (v NodeView) Lines() (imports, exports []string) {
	for _, im := range v.Imports {
		imports = append(imports, im.Module+" "+im.Name+" "+im.Kind)
	}
	for _, ex := range v.Exports {
		exports = append(exports, ex.Name+" "+ex.Kind)
	}
	return imports, exports
}
