package wasm_test

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	. "github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
)

// withSize encodes m with section i's size changed by delta.
func withSize(m *Module, i, delta int) []byte { return m.WithSize(i, delta) }

func header() []byte { return []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00} }

func TestBadInput(t *testing.T) {
	if _, err := wasm.Parse(Small().Bytes()); err != nil {
		t.Fatalf("the base module: %v", err)
	}
	huge := []byte{0xff, 0xff, 0xff, 0xff, 0x0f} // 2^32-1 in 5 bytes
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "the file is empty"},
		{"short header", header()[:5], "the file is 5 bytes, shorter than the 8-byte WebAssembly header"},
		{"not wasm", []byte("\x7fELF\x01\x00\x00\x00"), "not a WebAssembly binary: the file begins 7f 45 4c 46"},
		{"unknown version", []byte{0, 0x61, 0x73, 0x6d, 2, 0, 0, 0}, "unknown WebAssembly version 02 00 00 00"},
		{"the issue's 10 bytes", []byte{0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 0xff, 0xff}, "unknown section id 255"},
		{"section one byte too long", withSize(Small(), 0, +1), "section 1 (type) at byte 8: 1 bytes after the last entry"},
		{"last section one byte too long", withSize(Small(), 3, +1), "section 10 (code) at byte 30 runs 1 bytes past the end of the file"},
		{"section one byte too short", withSize(Small(), 0, -1), "section 1 (type) at byte 8: result count 1 needs at least 1 bytes but only 0 remain in the section"},
		{"entry past the section", withSize((&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecImport, Vec(Import("env", "f", 0, 0))), 1, -1),
			"section 2 (import) at byte 14: import 0 runs past the end of the section"},
		{"code section too short", withSize(Small(), 3, -1), "function 0's body is 7 bytes but only 6 remain"},
		{"section past the end", append(header(), 0x01, 0xe8, 0x07, 0x01), "section 1 (type) at byte 8 runs 999 bytes past the end of the file"},
		{"huge section size", append(header(), append([]byte{0x00}, huge...)...), "section 0 (custom) at byte 8 runs 4294967295 bytes past the end of the file"},
		{"huge import count", append(append(header(), 0x02, 0x06), append(huge, 0x00)...), "import count 4294967295 needs at least 17179869180 bytes but only 1 remain"},
		{"huge body size", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecCode, Vec(append(huge, 0x00, 0x0b))).Bytes(), "function 0's body is 4294967295 bytes but only 2 remain"},
		{"huge name", append(append(header(), 0x00, 0x06), huge...), "the custom section's name runs past the end of the section"},
		{"LEB128 too long", append(header(), 0x01, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00), "integer longer than 5 bytes"},
		{"LEB128 unused bits", append(header(), 0x01, 0x81, 0x80, 0x80, 0x80, 0x7f), "integer does not fit in 32 bits"},
		{"out of order", (&Module{}).Add(SecFunction, Vec()).Add(SecType, Vec()).Bytes(), "section 1 (type) comes after a later section"},
		{"datacount after code", (&Module{}).Add(SecCode, Vec()).Add(SecDataCount, Uleb(0)).Bytes(), "section 12 (datacount) comes after a later section"},
		{"tag after global", (&Module{}).Add(SecGlobal, Vec()).Add(SecTag, Vec()).Bytes(), "section 13 (tag) comes after a later section"},
		{"twice", (&Module{}).Add(SecType, Vec()).Add(SecType, Vec()).Bytes(), "section 1 (type) appears twice"},
		{"more bodies than functions", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecCode, Vec(Body(), Body())).Bytes(), "the code section has 2 function bodies but the function section declares 1 functions"},
		{"no code section", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).Bytes(),
			"the function section declares 1 functions but there is no code section"},
		{"duplicate export", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecExport, Vec(Export("f", 0, 0), Export("f", 0, 0))).Add(SecCode, Vec(Body())).Bytes(),
			`export 1 has the name "f", which an earlier export has`},
		{"trailing garbage", append(Small().Bytes(), 0xde, 0xad, 0xbe, 0xef), "unknown section id 222 (nothing may follow the last section) (byte 41)"},
		{"trailing half header", append(Small().Bytes(), 0x00, 0x85), "the section header at byte 41 is cut off by the end of the file"},
		{"bad UTF-8 import", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecImport, Vec(Import("env", "\xff\xfe", 0, 0))).Bytes(),
			"import 0's name is not valid UTF-8"},
		{"bad UTF-8 export", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).
			Add(SecExport, Vec(Export("a\xc0", 0, 0))).Add(SecCode, Vec(Body())).Bytes(), "export 0's name is not valid UTF-8"},
		{"bad UTF-8 custom", (&Module{}).Add(SecCustom, Name("\xed\xa0\x80")).Bytes(), "the custom section's name is not valid UTF-8"},
		{"unknown import kind", (&Module{}).Add(SecImport, Vec(Import("env", "x", 0x05, 0))).Bytes(), "import 0 (env.x) has unknown kind 0x05"},
		{"unknown export kind", (&Module{}).Add(SecExport, Vec(Export("x", 0x09, 0))).Bytes(), `export 0 ("x") has unknown kind 0x09`},
		{"export out of range", (&Module{}).Add(SecExport, Vec(Export("m", 2, 0))).Bytes(), `export 0 ("m") names memory 0 but there are 0`},
		{"import of a missing type", (&Module{}).Add(SecImport, Vec(Import("env", "f", 0, 3))).Bytes(), "import 0 (env.f) has type 3 but there are 0 types"},
		{"unknown value type", (&Module{}).Add(SecType, Vec([]byte{0x60, 1, 0x55, 0})).Bytes(), "unknown value type 0x55"},
		{"not a func type", (&Module{}).Add(SecType, Vec([]byte{0x5f, 0, 0})).Bytes(), "type 0 has form 0x5f; the parser knows function types (0x60) only"},
		{"start out of range", (&Module{}).Add(SecStart, Uleb(0)).Bytes(), "the start section names function 0 but there are 0"},
		{"non-constant global", (&Module{}).Add(SecGlobal, Vec([]byte{I32, 0, 0x20, 0, 0x0b})).Bytes(),
			"a global's initializer holds opcode 0x20, which is not a constant instruction"},
		{"global.get out of range", (&Module{}).Add(SecGlobal, Vec([]byte{I32, 0, 0x23, 4, 0x0b})).Bytes(), "a global's initializer reads global 4 but there are 0"},
		{"bad mutability", (&Module{}).Add(SecGlobal, Vec([]byte{I32, 2, 0x41, 0, 0x0b})).Bytes(), "global mutability is 0x02"},
		{"element flags", (&Module{}).Add(SecElement, Vec([]byte{8, 0, 0})).Bytes(), "element segment 0 has unknown flags 8"},
		{"element function out of range", (&Module{}).Add(SecTable, Vec([]byte{FuncRef, 0, 1})).
			Add(SecElement, Vec([]byte{0, 0x41, 0, 0x0b, 1, 5})).Bytes(), "element names function 5 but there are 0"},
		{"data flags", (&Module{}).Add(SecData, Vec([]byte{3, 0})).Bytes(), "data segment 0 has unknown flags 3"},
		{"data past the section", (&Module{}).Add(SecMemory, Vec([]byte{0, 1})).Add(SecData, Vec([]byte{0, 0x41, 0, 0x0b, 9, 1})).Bytes(),
			"data segment 0 is 9 bytes but only 1 remain in the section"},
		{"data count disagrees", (&Module{}).Add(SecDataCount, Uleb(2)).Add(SecData, Vec([]byte{1, 0})).Bytes(),
			"the data section has 1 segments but the data count section says 2"},
		{"shared memory without maximum", (&Module{}).Add(SecMemory, Vec([]byte{0x02, 1})).Bytes(), "a shared memory needs a maximum"},
		{"max below min", (&Module{}).Add(SecMemory, Vec([]byte{0x01, 2, 1})).Bytes(), "limits have maximum 1 below minimum 2"},
		{"unknown limits flags", (&Module{}).Add(SecMemory, Vec([]byte{0x10, 1})).Bytes(), "limits have unknown flags 0x10"},
		{"empty body", (&Module{}).Add(SecType, Vec(FuncType(nil, nil))).Add(SecFunction, Vec([]byte{0})).Add(SecCode, Vec([]byte{0, 0})).Bytes(),
			"function 0's body is empty"},
	}
	seen := map[string]string{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := wasm.Parse(c.in)
			if err == nil {
				t.Fatalf("accepted % x", c.in)
			}
			var fe *wasm.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, wasm.ErrInvalidModule) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("error %v (%T) is not a *FormatError of class ErrInvalid", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) {
				t.Errorf("error\n %s\nwant it to contain\n %s", msg, c.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
			if other, dup := seen[msg]; dup {
				t.Errorf("same message as case %q: %s", other, msg)
			}
			seen[msg] = c.name
			// the same error whatever the chunks
			if _, err2 := feed(c.in, func() int { return 1 }); err2 == nil || err2.Error() != msg {
				t.Errorf("fed a byte at a time: %v", err2)
			}
		})
	}
}

// A 5-byte count of 2^32-1 imports in a 20-byte file allocates nothing
// in proportion to the count.
func TestHugeCountAllocatesLittle(t *testing.T) {
	in := append(header(), 0x02, 0x06, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00)
	in = append(in, 0, 0, 0, 0)
	if len(in) != 20 {
		t.Fatalf("%d bytes", len(in))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const runs = 100
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := wasm.Parse(in); err == nil {
			t.Fatal("accepted")
		}
	})
	runtime.ReadMemStats(&after)
	perRun := (after.TotalAlloc - before.TotalAlloc) / (runs + 1)
	if allocs > 20 || perRun > 4<<10 {
		t.Errorf("a refused 20-byte file cost %v allocations and %d bytes per parse", allocs, perRun)
	}
	t.Logf("%v allocations, %d bytes per parse", allocs, perRun)
}

// A long entry whose length is known only at its end (a constant
// expression of 256 KiB) fed in small chunks is decoded a bounded number
// of times, not once per chunk.
func TestLongEntryInSmallChunks(t *testing.T) {
	expr := []byte{0x41, 0}
	for len(expr) < 256<<10 {
		expr = append(expr, 0x41, 1, 0x6a) // i32.const 1; i32.add
	}
	expr = append(expr, 0x0b)
	b := (&Module{}).Add(SecGlobal, Vec(append([]byte{I32, 0}, expr...))).Bytes()
	start := time.Now()
	info, err := feed(b, func() int { return 100 })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.Features, wasm.FeatureExtendedConst) {
		t.Errorf("features %q", info.Features)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 256 KiB entry in 100-byte chunks took %v", d)
	}
}

// The parser holds entries, never the module: parsing the 32 MB
// ffmpeg-core.wasm in 32 KiB chunks allocates a small fraction of it.
func TestBoundedMemoryOnRealModule(t *testing.T) {
	b := RealBytes(t, "ffmpeg-core.wasm")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := feed(b, func() int { return 32 << 10 }); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 2<<20 {
		t.Errorf("parsing %d bytes allocated %d bytes", len(b), alloc)
	}
	t.Logf("parsing %d bytes allocated %d bytes", len(b), alloc)
}
