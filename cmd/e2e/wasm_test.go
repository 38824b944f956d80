package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/gmptest"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// badModule is one binary the structural parser refuses.
type badModule struct {
	name string
	b    []byte
}

// builtBadModules are issue 9's bad inputs built by hand: each breaks one
// rule.
func builtBadModules() []badModule {
	header := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 2^32-1 in 5 bytes
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return []badModule{
		{"the issue's 10 bytes", cat(header, []byte{0xff, 0xff})},
		{"section one byte too long", Small().WithSize(0, +1)},
		{"last section one byte too long", Small().WithSize(3, +1)},
		{"section one byte too short", Small().WithSize(0, -1)},
		{"code section one byte too short", Small().WithSize(3, -1)},
		// A 20-byte file that claims 2^32-1 imports.
		{"huge import count", cat(header, []byte{0x02, 0x06}, huge, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x00})},
		{"huge type count", cat(header, []byte{0x01, 0x05}, huge)},
		{"huge body size", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecCode, Vec(append(bytes.Clone(huge), 0x00, 0x0b))).Bytes()},
		{"sections out of order", (&Module{}).Add(SecFunction, Vec()).Add(SecType, Vec()).Bytes()},
		{"more bodies than functions", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecCode, Vec(Body(), Body())).Bytes()},
		{"functions without code", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).Bytes()},
		{"duplicate export names", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecExport, Vec(Export("run", 0, 0), Export("run", 0, 0))).Add(SecCode, Vec(Body())).Bytes()},
		{"trailing garbage", append(Small().Bytes(), 0x00)},
		{"trailing bytes after a section", append(Small().Bytes(), 0x0b, 0x01)},
		{"invalid UTF-8 in an export name", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecExport, Vec(append(append(Uleb(2), 0xc3, 0x28), 0x00, 0x00))).Add(SecCode, Vec(Body())).Bytes()},
		{"invalid UTF-8 in an import module", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).
			Add(SecImport, Vec(cat(Uleb(1), []byte{0xff}, Name("f"), []byte{0x00, 0x00}))).Bytes()},
		{"unknown import kind", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecImport, Vec(Import("env", "f", 0x07, 0))).Bytes()},
	}
}

// realBadModules cuts each real module at every section boundary where
// the cut leaves a binary the parser refuses, one byte after every
// boundary (inside a section header), and at random offsets (seeded; the
// seed is logged).
func realBadModules(t *testing.T, seed uint64) []badModule {
	rng := rand.New(rand.NewPCG(seed, 0))
	var out []badModule
	for _, name := range RealModules {
		b := RealBytes(t, name)
		var cuts []int
		for _, at := range SectionBoundaries(b) {
			cuts = append(cuts, at, at+1)
		}
		for range 8 {
			cuts = append(cuts, 9+rng.IntN(len(b)-10))
		}
		for _, at := range cuts {
			if at >= len(b) {
				continue
			}
			if _, err := wasm.Parse(b[:at]); err == nil {
				continue // a cut before trailing custom sections is a whole module
			}
			out = append(out, badModule{fmt.Sprintf("%s cut at %d of %d", name, at, len(b)), b[:at]})
		}
	}
	return out
}

// putRaw uploads b through the control API over TCP and returns the
// status and decoded error body.
func putRaw(t *testing.T, addr, name, version string, b []byte) (int, api.ErrorBody) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/v1/modules/"+name+"/"+version, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	var eb api.ErrorBody
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &eb)
	return resp.StatusCode, eb
}

// TestInvalidModulesRefused sends every bad input of issue 9 to a real
// daemon: each gets 400 invalid_module with the parser's own one-line
// message, nothing of any is kept, and the daemon keeps serving.
func TestInvalidModulesRefused(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	tiny := e.file("tiny.wasm", testutil.TinyWasm)
	e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny)
	before, blobsBefore := e.listJSON(), e.blobFiles()

	seed := uint64(time.Now().UnixNano())
	t.Logf("random cuts seeded with %d", seed)
	cases := append(builtBadModules(), realBadModules(t, seed)...)
	messages := map[string]string{}
	for _, c := range cases {
		_, perr := wasm.Parse(c.b)
		if perr == nil {
			t.Fatalf("%s: the fixture is a valid module", c.name)
		}
		status, eb := putRaw(t, st.ControlAddr, "bad", "1.0.0", c.b)
		if status != http.StatusBadRequest || eb.Error != api.CodeInvalidModule || !strings.Contains(eb.Message, perr.Error()) || strings.Contains(eb.Message, "\n") {
			t.Errorf("%s: %d %+v; want 400 invalid_module saying %q", c.name, status, eb, perr)
		}
		messages[perr.Error()] = c.name
	}
	t.Logf("%d bad binaries refused with %d distinct messages", len(cases), len(messages))
	builtMessages := map[string]string{}
	for _, c := range builtBadModules() {
		_, perr := wasm.Parse(c.b)
		if other, dup := builtMessages[perr.Error()]; dup {
			t.Errorf("%q and %q get the same message %q: each bad input needs its own", other, c.name, perr)
		}
		builtMessages[perr.Error()] = c.name
	}

	// The command line: exit 2, one line that says what and where.
	bad := e.file("bad.wasm", builtBadModules()[0].b)
	r := e.run(nil, "wasm", "upload", "--name", "bad", "--version", "1.0.0", "--file", bad)
	if r.code != 2 || !strings.Contains(oneLine(t, r), "unknown section id 255") {
		t.Errorf("CLI upload of the issue's 10 bytes: %v", r)
	}

	// Nothing kept, still serving.
	e.gpmd("status")
	if after := e.listJSON(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("modules changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if after := e.blobFiles(); !slices.Equal(after, blobsBefore) {
		t.Errorf("refused uploads left blobs: before %v, after %v", blobsBefore, after)
	}
	if ingest, _ := os.ReadDir(filepath.Join(e.dir, "modules", "ingest")); len(ingest) != 0 {
		t.Errorf("refused uploads left %d files in ingest/", len(ingest))
	}
	if got := e.gpmd("wasm", "get", "tiny@v0.0.1").stdout; got != string(testutil.TinyWasm) {
		t.Fatal("tiny@v0.0.1 bytes changed")
	}
}

// TestRealModulesRecorded uploads the real modules and a component: what
// inspect -o json and GMP's MODULE_INFO report equals what node's
// WebAssembly.Module.imports()/exports() report; list -o json carries
// kind and counts; inspect prints signatures; check validates.
func TestRealModulesRecorded(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gc, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	w, err := gc.Hello(ctx, "gvm/e2e")
	if err != nil || !slices.Contains(w.Features, wire.FeatureModuleInfo) {
		t.Fatalf("WELCOME = %+v, %v; want module_info in features", w, err)
	}

	names := map[string]string{"sql-wasm.wasm": "sqljs", "esbuild.wasm": "esbuild", "ffmpeg-core.wasm": "ffmpeg"}
	counts := map[string][2]int{}
	for _, file := range RealModules {
		name := names[file]
		path := Real(t, file)
		e.gpmd("wasm", "upload", "--name", name, "--version", "1.0.0", "--file", path)
		wantImports, wantExports := AskNode(t, path).Lines()

		var mi api.ModuleInfo
		e.jsonOf(&mi, "wasm", "inspect", name, "-o", "json")
		var gotImports, gotExports []string
		for _, im := range mi.Imports {
			gotImports = append(gotImports, im.Module+" "+im.Name+" "+NodeKind[im.Kind])
		}
		for _, ex := range mi.Exports {
			gotExports = append(gotExports, ex.Name+" "+NodeKind[ex.Kind])
		}
		if !slices.Equal(gotImports, wantImports) || !slices.Equal(gotExports, wantExports) {
			t.Errorf("%s: inspect differs from node:\nimports %q\n  node  %q\nexports %q\n  node  %q", file, gotImports, wantImports, gotExports, wantExports)
		}
		if mi.Kind != wasm.KindModule || mi.Size == 0 || mi.Digest == "" {
			t.Errorf("%s: inspect = kind %q size %d digest %q", file, mi.Kind, mi.Size, mi.Digest)
		}

		d, err := gc.ModuleInfo(ctx, name, "^1")
		if err != nil {
			t.Fatalf("%s: MODULE_INFO: %v", file, err)
		}
		gotImports, gotExports = nil, nil
		for _, im := range d.Imports {
			gotImports = append(gotImports, im.Module+" "+im.Name+" "+NodeKind[im.Kind])
		}
		for _, ex := range d.Exports {
			gotExports = append(gotExports, ex.Name+" "+NodeKind[ex.Kind])
		}
		if !slices.Equal(gotImports, wantImports) || !slices.Equal(gotExports, wantExports) || d.Hash != mi.Digest.String() || d.Kind != "module" {
			t.Errorf("%s: MODULE_INFO differs from node's view or from inspect", file)
		}
		counts[name] = [2]int{len(wantImports), len(wantExports)}
		t.Logf("%s: %d imports and %d exports agree with node", file, len(wantImports), len(wantExports))
	}

	comp := e.file("comp.wasm", []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00})
	e.gpmd("wasm", "upload", "--name", "comp", "--version", "0.1.0", "--file", comp)
	if out := e.gpmd("wasm", "inspect", "comp").stdout; !strings.Contains(out, "comp@0.1.0  component") {
		t.Errorf("inspect of a component:\n%s", out)
	}
	if got := e.gpmd("wasm", "get", "comp").stdout; got != string([]byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}) {
		t.Error("the component's bytes did not come back")
	}

	var list api.ModuleList
	e.jsonOf(&list, "wasm", "list", "-o", "json")
	for _, m := range list.Modules {
		v := m.Versions[0]
		want, isReal := counts[m.Name]
		switch {
		case m.Name == "comp" && v.Kind != "component":
			t.Errorf("list: comp is %q", v.Kind)
		case isReal && (v.Kind != "module" || v.Imports != want[0] || v.Exports != want[1]):
			t.Errorf("list: %s = %+v, want module with %d imports and %d exports", m.Name, v, want[0], want[1])
		}
	}

	// A person's view: signatures as the text format reads them.
	b := Small().Bytes()
	e.gpmd("wasm", "upload", "--name", "small", "--version", "1.0.0", "--file", e.file("small.wasm", b))
	out := e.gpmd("wasm", "inspect", "small@1.0.0").stdout
	for _, want := range []string{"small@1.0.0  module", "exports (1):", "add(i32, i32) -> i32", "functions: 1 defined"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	if r := e.gpmd("wasm", "check", "sqljs"); !strings.Contains(r.stdout, "sqljs@1.0.0") || !strings.Contains(r.stdout, "valid") {
		t.Errorf("check sqljs: %v", r)
	}
	if r := e.run(nil, "wasm", "check", "comp"); r.code != 1 || !strings.Contains(oneLine(t, r), "which the validator does not support") {
		t.Errorf("check of a component: %v", r)
	}
	if r := e.run(nil, "wasm", "inspect", "nosuch"); r.code != 4 {
		t.Errorf("inspect of a missing module: %v", r)
	}
}

// TestCheckedUploadAndDeepVerify: upload --check refuses what wazero
// refuses and keeps nothing; a plain upload keeps it, wasm check and verify
// --deep name it; a version stored before uploads were parsed whose bytes
// the parser refuses stays served and verify names it invalid_module.
func TestCheckedUploadAndDeepVerify(t *testing.T) {
	e := newEnv(t)
	modules := filepath.Join(e.dir, "modules")
	if err := os.MkdirAll(modules, 0o755); err != nil {
		t.Fatal(err)
	}
	headerOnly := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff}
	gmptest.StoreUnparsed(t, modules, "old", "0.0.1", headerOnly)
	e.start()

	bad := e.file("typed.wasm", InvalidForWazero())
	blobsBefore := e.blobFiles()
	r := e.run(nil, "wasm", "upload", "--name", "typed", "--version", "1.0.0", "--file", bad, "--check")
	if r.code != 2 || !strings.Contains(oneLine(t, r), "invalid module") {
		t.Fatalf("upload --check of a module wazero refuses: %v", r)
	}
	if after := e.blobFiles(); !slices.Equal(after, blobsBefore) {
		t.Errorf("a refused checked upload left blobs: %v", after)
	}
	if r := e.run(nil, "wasm", "list", "typed"); r.code != 4 {
		t.Errorf("a refused checked upload is listed: %v", r)
	}
	e.gpmd("wasm", "upload", "--name", "good", "--version", "1.0.0", "--file", e.file("small.wasm", Small().Bytes()), "--check")

	// Without --check the structure is enough to keep it.
	e.gpmd("wasm", "upload", "--name", "typed", "--version", "1.0.0", "--file", bad)
	if r := e.run(nil, "wasm", "check", "typed"); r.code != 7 || !strings.Contains(r.stdout, "typed@1.0.0") || !strings.Contains(r.stdout, "invalid_module") {
		t.Errorf("check of a module wazero refuses: %v", r)
	}

	// The old version stays served, has no record, and verify names it.
	if got := e.gpmd("wasm", "get", "old@0.0.1").stdout; got != string(headerOnly) {
		t.Error("the old version is not served as before")
	}
	if r := e.run(nil, "wasm", "inspect", "old"); r.code != 2 || !strings.Contains(oneLine(t, r), "old@0.0.1") {
		t.Errorf("inspect of the old version: %v", r)
	}
	r = e.run(nil, "verify")
	if r.code != 7 || !strings.Contains(r.stdout, "invalid_module") || !strings.Contains(r.stdout, "old@0.0.1") || strings.Contains(r.stdout, "typed@") {
		t.Errorf("verify: %v", r)
	}
	var rep struct {
		Problems []struct{ Kind, Name, Version string }
	}
	r = e.run(nil, "verify", "--deep", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 7 {
		t.Fatalf("verify --deep -o json: %v", r)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.Kind+" "+p.Name+"@"+p.Version)
	}
	slices.Sort(got)
	if want := []string{"invalid_module old@0.0.1", "invalid_module typed@1.0.0"}; !slices.Equal(got, want) {
		t.Errorf("verify --deep problems = %q, want %q", got, want)
	}
}
