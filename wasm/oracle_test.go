package wasm_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/ghost-network/gpmd/wasm/validate"
)

// TestOracle compares what the parser records with two independent
// readers: node's WebAssembly.Module.imports()/exports() for names, kinds
// and order, and wazero's compiled module for function types.
func TestOracle(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is needed for the oracle test: %v", err)
	}
	paths := map[string]string{}
	for _, name := range RealModules {
		paths[name] = Real(t, name)
	}
	everything := filepath.Join(t.TempDir(), "everything.wasm")
	if err := os.WriteFile(everything, Everything().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	paths["everything"] = everything
	for name, path := range paths {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			info := mustParse(t, b)
			node := AskNode(t, path)
			var got, want []string
			for _, im := range info.Imports {
				got = append(got, im.Module+" "+im.Name+" "+NodeKind[im.Kind])
			}
			want, wantExports := node.Lines()
			if !slices.Equal(got, want) {
				t.Errorf("imports differ from node's\n got %q\nwant %q", got, want)
			}
			got, want = nil, wantExports
			for _, ex := range info.Exports {
				got = append(got, ex.Name+" "+NodeKind[ex.Kind])
			}
			if !slices.Equal(got, want) {
				t.Errorf("exports differ from node's\n got %q\nwant %q", got, want)
			}
			compareWithWazero(t, b, info)
			t.Logf("%d imports and %d exports agree with node", len(info.Imports), len(info.Exports))
		})
	}
}

func wazeroTypes(ts []api.ValueType) []string {
	out := []string{}
	for _, v := range ts {
		switch v {
		case api.ValueTypeI32:
			out = append(out, "i32")
		case api.ValueTypeI64:
			out = append(out, "i64")
		case api.ValueTypeF32:
			out = append(out, "f32")
		case api.ValueTypeF64:
			out = append(out, "f64")
		case api.ValueTypeExternref:
			out = append(out, "externref")
		case 0x7b:
			out = append(out, "v128")
		case 0x70:
			out = append(out, "funcref")
		default:
			out = append(out, api.ValueTypeName(v))
		}
	}
	return out
}

func compareWithWazero(t *testing.T, b []byte, info wasm.Info) {
	t.Helper()
	ctx := t.Context()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(validate.Features).WithDebugInfoEnabled(false))
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, b)
	if err != nil {
		t.Fatalf("wazero: %v", err)
	}
	var funcImports []wasm.Import
	for _, im := range info.Imports {
		if im.Kind == wasm.ExternFunc {
			funcImports = append(funcImports, im)
		}
	}
	wi := cm.ImportedFunctions()
	if len(wi) != len(funcImports) {
		t.Fatalf("%d imported functions, wazero %d", len(funcImports), len(wi))
	}
	for i, d := range wi {
		mod, name, _ := d.Import()
		im := funcImports[i]
		if mod != im.Module || name != im.Name || !slices.Equal(wazeroTypes(d.ParamTypes()), im.Params) ||
			!slices.Equal(wazeroTypes(d.ResultTypes()), im.Results) {
			t.Errorf("import %d: %s.%s %v -> %v, wazero %s.%s %v -> %v", i, im.Module, im.Name, im.Params, im.Results,
				mod, name, wazeroTypes(d.ParamTypes()), wazeroTypes(d.ResultTypes()))
		}
	}
	we := cm.ExportedFunctions()
	n := 0
	for _, ex := range info.Exports {
		if ex.Kind != wasm.ExternFunc {
			continue
		}
		n++
		d, ok := we[ex.Name]
		if !ok {
			t.Errorf("export %s: wazero does not have it", ex.Name)
			continue
		}
		if !slices.Equal(wazeroTypes(d.ParamTypes()), ex.Params) || !slices.Equal(wazeroTypes(d.ResultTypes()), ex.Results) {
			t.Errorf("export %s: %v -> %v, wazero %v -> %v", ex.Name, ex.Params, ex.Results,
				wazeroTypes(d.ParamTypes()), wazeroTypes(d.ResultTypes()))
		}
	}
	if n != len(we) {
		t.Errorf("%d exported functions, wazero %d", n, len(we))
	}
}
