package wasm_test

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

func mustParse(t testing.TB, b []byte) wasm.Info {
	t.Helper()
	info, err := wasm.Parse(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return info
}

func TestEverything(t *testing.T) {
	info := mustParse(t, Everything().Bytes())
	if info.Kind != wasm.KindModule {
		t.Errorf("kind %q", info.Kind)
	}
	var imports, exports []string
	for _, im := range info.Imports {
		imports = append(imports, im.Module+"."+im.Name+" "+im.Kind+" "+im.Signature())
	}
	for _, ex := range info.Exports {
		exports = append(exports, ex.Kind+" "+ex.Signature())
	}
	wantImports := []string{
		"env.log func log(i32)",
		"env.table table table table funcref 1..",
		"env.memory memory memory memory 1..16 shared",
		"env.g global global g: i32",
		"env.exn tag tag exn(i32)",
	}
	wantExports := []string{
		"func add(i32, i32) -> i32",
		"func log_again(i32)",
		"func simd(v128) -> (i64, f64)",
		"table table table funcref 1..",
		"memory memory memory 1..16 shared",
		"global global g: i32",
		"global global h: mut i64",
		"tag tag exn(i32)",
	}
	if !slices.Equal(imports, wantImports) {
		t.Errorf("imports\n got %q\nwant %q", imports, wantImports)
	}
	if !slices.Equal(exports, wantExports) {
		t.Errorf("exports\n got %q\nwant %q", exports, wantExports)
	}
	wantFeatures := []string{wasm.FeatureBulkMemory, wasm.FeatureExceptions, wasm.FeatureExtendedConst,
		wasm.FeatureMultiValue, wasm.FeatureMutableGlobals, wasm.FeatureReferenceTypes, wasm.FeatureSIMD, wasm.FeatureThreads}
	slices.Sort(wantFeatures)
	if !slices.Equal(info.Features, wantFeatures) {
		t.Errorf("features %q, want %q", info.Features, wantFeatures)
	}
	if !slices.Equal(info.CustomSections, []string{"first", "notes", "last"}) {
		t.Errorf("custom sections %q", info.CustomSections)
	}
	if info.Start == nil || *info.Start != 2 {
		t.Errorf("start %v, want 2", info.Start)
	}
	if info.Functions != 3 || len(info.Memories) != 1 || len(info.Tables) != 2 {
		t.Errorf("functions %d memories %d tables %d", info.Functions, len(info.Memories), len(info.Tables))
	}
	if m := info.Memories[0]; !m.Shared || !m.Imported || m.Min != 1 || m.Max == nil || *m.Max != 16 {
		t.Errorf("memory %+v", m)
	}
	if tb := info.Tables[1]; tb.Type != "externref" || tb.Imported || tb.Min != 0 || *tb.Max != 4 {
		t.Errorf("table 1 %+v", tb)
	}
}

// The JSON of imports and exports is what GMP.md's MODULE_INFO shows: a
// func carries params and results, [] when empty.
func TestJSONMatchesGMP(t *testing.T) {
	m := &Module{}
	m.Add(SecType, Vec(FuncType([]byte{I32}, nil), FuncType([]byte{I32, I32}, []byte{I32})))
	m.Add(SecImport, Vec(Import("env", "log", 0, 0)))
	m.Add(SecFunction, Vec([]byte{1}))
	m.Add(SecExport, Vec(Export("add", 0, 1)))
	m.Add(SecCode, Vec(Body(0x20, 0, 0x20, 1, 0x6a)))
	info := mustParse(t, m.Bytes())
	got, err := json.Marshal(struct {
		Kind    wasm.Kind     `json:"kind"`
		Imports []wasm.Import `json:"imports"`
		Exports []wasm.Export `json:"exports"`
	}{info.Kind, info.Imports, info.Exports})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"module","imports":[{"module":"env","name":"log","kind":"func","params":["i32"],"results":[]}],` +
		`"exports":[{"name":"add","kind":"func","params":["i32","i32"],"results":["i32"]}]}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}

func TestTinyAndTestutilModules(t *testing.T) {
	info := mustParse(t, testutil.TinyWasm)
	if info.Kind != wasm.KindModule || len(info.Imports) != 0 || info.Imports == nil || info.Exports == nil {
		t.Errorf("tiny: %+v", info)
	}
	for _, size := range []int{0, 21, 100, 1 << 16} {
		info := mustParse(t, testutil.Wasm("tag", size))
		if !slices.Equal(info.CustomSections, []string{"tag"}) {
			t.Errorf("Wasm(tag, %d): custom sections %q", size, info.CustomSections)
		}
	}
}

func TestComponent(t *testing.T) {
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00, 0x01, 0x02, 0xff, 0xfe}
	info := mustParse(t, b)
	if info.Kind != wasm.KindComponent || len(info.Imports) != 0 || len(info.Exports) != 0 {
		t.Errorf("component: %+v", info)
	}
	if _, err := wasm.Parse(b[:6]); err == nil || !strings.Contains(err.Error(), "shorter than the 8-byte") {
		t.Errorf("a cut component header: %v", err)
	}
}

// feed writes b to a new parser in chunks of the sizes next gives.
func feed(b []byte, next func() int) (wasm.Info, error) {
	p := wasm.NewParser()
	for len(b) > 0 {
		n := min(max(next(), 1), len(b))
		if _, err := p.Write(b[:n]); err != nil {
			return wasm.Info{}, err
		}
		b = b[n:]
	}
	return p.Finish()
}

func sameResult(t testing.TB, what string, b []byte, next func() int) {
	t.Helper()
	want, wantErr := wasm.Parse(b)
	got, err := feed(b, next)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		t.Fatalf("%s: chunked error %v, whole error %v", what, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: chunked info differs from whole:\n got %+v\nwant %+v", what, got, want)
	}
}

func TestChunkingDoesNotMatter(t *testing.T) {
	everything := Everything().Bytes()
	for _, size := range []int{1, 2, 3, 5, 7, 16, 17, 100} {
		sameResult(t, "everything", everything, func() int { return size })
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, name := range RealModules {
		b := RealBytes(t, name)
		sameResult(t, name+" 32 KiB", b, func() int { return 32 << 10 })
		sameResult(t, name+" random", b, func() int { return rng.IntN(4096) + 1 })
		if len(b) < 1<<20 {
			sameResult(t, name+" 1-byte", b, func() int { return 1 })
		}
	}
}

func TestRealModules(t *testing.T) {
	for _, name := range RealModules {
		info := mustParse(t, RealBytes(t, name))
		if len(info.Exports) == 0 || len(info.Imports) == 0 || info.Functions == 0 {
			t.Errorf("%s: %d imports, %d exports, %d functions", name, len(info.Imports), len(info.Exports), info.Functions)
		}
		t.Logf("%s: %d imports, %d exports, %d functions, features %v, custom %v",
			name, len(info.Imports), len(info.Exports), info.Functions, info.Features, info.CustomSections)
	}
}

// sectionBounds returns the offsets where each section of a valid module
// begins, and its end.
func sectionBounds(t testing.TB, b []byte) []int {
	t.Helper()
	out := []int{8}
	for i := 8; i < len(b); {
		i++
		var size, shift uint
		for {
			c := b[i]
			i++
			size |= uint(c&0x7f) << shift
			shift += 7
			if c&0x80 == 0 {
				break
			}
		}
		i += int(size)
		out = append(out, i)
	}
	return out
}

func TestTruncatedRealModules(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, name := range RealModules {
		b := RealBytes(t, name)
		bounds := sectionBounds(t, b)
		if bounds[len(bounds)-1] != len(b) {
			t.Fatalf("%s: sections end at %d of %d", name, bounds[len(bounds)-1], len(b))
		}
		var cuts []int
		for _, at := range bounds[:len(bounds)-1] {
			cuts = append(cuts, at-1, at+1, at+2) // inside the previous section, inside a header
		}
		for range 50 {
			cuts = append(cuts, rng.IntN(len(b)-1))
		}
		for _, at := range cuts {
			_, err := wasm.Parse(b[:at])
			var fe *wasm.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, wasm.ErrInvalidModule) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("%s cut at %d: error %v, want a *FormatError", name, at, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "past the end of the file") && !strings.Contains(msg, "cut off by the end of the file") &&
				!strings.Contains(msg, "8-byte") {
				t.Fatalf("%s cut at %d: %v", name, at, msg)
			}
		}
		// the cut exactly at a section boundary is a whole, smaller file only
		// when what it drops does not matter: the code section must follow
		// the function section.
		for _, at := range bounds[1 : len(bounds)-1] {
			if _, err := wasm.Parse(b[:at]); err == nil {
				continue
			} else if !strings.Contains(err.Error(), "no code section") && !strings.Contains(err.Error(), "no data section") {
				t.Fatalf("%s cut at the section boundary %d: %v", name, at, err)
			}
		}
	}
}

func TestTargetFeatures(t *testing.T) {
	tf := Vec(append([]byte{'+'}, Name("atomics")...), append([]byte{'-'}, Name("simd128")...),
		append([]byte{'='}, Name("tail-call")...), append([]byte{'+'}, Name("unknown-thing")...))
	info := mustParse(t, (&Module{}).Add(SecCustom, Name("target_features"), tf).Bytes())
	if want := []string{wasm.FeatureTailCall, wasm.FeatureThreads}; !slices.Equal(info.Features, want) {
		t.Errorf("features %q, want %q", info.Features, want)
	}
	// a custom section never makes a module invalid: a malformed one is ignored
	info = mustParse(t, (&Module{}).Add(SecCustom, Name("target_features"), []byte{5, '+', 0xff}).Bytes())
	if len(info.Features) != 0 {
		t.Errorf("features from a malformed section: %q", info.Features)
	}
	ffmpeg := mustParse(t, RealBytes(t, "ffmpeg-core.wasm"))
	if !slices.Contains(ffmpeg.Features, wasm.FeatureThreads) {
		t.Errorf("ffmpeg-core.wasm uses atomics, features %q", ffmpeg.Features)
	}
}

// Reference types beyond funcref and externref take their text-format
// spelling; 64-bit memories and tables their limits.
func TestTypedReferencesAndMemory64(t *testing.T) {
	m := &Module{}
	m.Add(SecType, Vec(
		FuncType(nil, nil),
		[]byte{0x60, 3, 0x63, 0x00, 0x64, 0x70, 0x6e, 1, 0x69}, // three typed references -> exnref
	))
	m.Add(SecImport, Vec(
		Import("env", "f", 0, 1),
		Import("env", "mem", 2, 0x05, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), // i64 limits, max 2^36
		Import("env", "t", 1, 0x64, 0x00, 0x04, 3),                           // (ref 0), table64
	))
	info := mustParse(t, m.Bytes())
	if got := info.Imports[0].Signature(); got != "f((ref null 0), (ref func), anyref) -> exnref" {
		t.Errorf("signature %q", got)
	}
	mem := info.Memories[0]
	if !mem.Is64 || mem.Min != 1 || mem.Max == nil || *mem.Max != 1<<36 {
		t.Errorf("memory %+v", mem)
	}
	if tb := info.Tables[0]; tb.Type != "(ref 0)" || !tb.Is64 || tb.Min != 3 {
		t.Errorf("table %+v", tb)
	}
	want := []string{wasm.FeatureFunctionRefs, wasm.FeatureMemory64, wasm.FeatureReferenceTypes}
	if !slices.Equal(info.Features, want) {
		t.Errorf("features %q, want %q", info.Features, want)
	}
}
