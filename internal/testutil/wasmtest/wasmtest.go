// Package wasmtest holds what the tests of wasm and its subpackages share:
// a builder of hand-encoded modules and the paths of the real modules that
// `make wasm-fixtures` fetches. It is imported only by _test files.
package wasmtest

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The real modules (scripts/wasm-fixtures.sh pins their versions).
var RealModules = []string{"sql-wasm.wasm", "esbuild.wasm", "ffmpeg-core.wasm"}

// CacheDir is where scripts/wasm-fixtures.sh puts the modules:
// $GPMD_TEST_CACHE/wasm, else ${XDG_CACHE_HOME:-$HOME/.cache}/gpmd-test/wasm.
func CacheDir() string {
	if d := os.Getenv("GPMD_TEST_CACHE"); d != "" {
		return filepath.Join(d, "wasm")
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "gpmd-test", "wasm")
}

// Real returns the path of the real module name, failing the test (not
// skipping it) when it is missing.
func Real(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(CacheDir(), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("real module %s is missing (%v): run `make wasm-fixtures` first", name, err)
	}
	return p
}

// RealBytes reads the real module name; see Real.
func RealBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(Real(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Value types and section ids, for building modules.
const (
	I32       = 0x7f
	I64       = 0x7e
	F32       = 0x7d
	F64       = 0x7c
	V128      = 0x7b
	FuncRef   = 0x70
	ExternRef = 0x6f

	SecCustom    = 0
	SecType      = 1
	SecImport    = 2
	SecFunction  = 3
	SecTable     = 4
	SecMemory    = 5
	SecGlobal    = 6
	SecExport    = 7
	SecStart     = 8
	SecElement   = 9
	SecCode      = 10
	SecData      = 11
	SecDataCount = 12
	SecTag       = 13
)

// Module is a module under construction: its sections in order.
type Module struct{ Sections []Section }

// Section is one section: its id and its contents (after the size).
type Section struct {
	ID   byte
	Body []byte
}

// Add appends a section.
func (m *Module) Add(id byte, body ...[]byte) *Module {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	m.Sections = append(m.Sections, Section{id, b})
	return m
}

// Bytes encodes the module.
func (m *Module) Bytes() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	for _, s := range m.Sections {
		out = append(out, s.ID)
		out = U32(out, uint32(len(s.Body)))
		out = append(out, s.Body...)
	}
	return out
}

// U32 appends v as unsigned LEB128.
func U32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

// Uleb returns v as unsigned LEB128.
func Uleb(v uint32) []byte { return U32(nil, v) }

// Name returns a length-prefixed name.
func Name(s string) []byte { return append(Uleb(uint32(len(s))), s...) }

// Vec returns a count followed by the entries.
func Vec(entries ...[]byte) []byte {
	b := Uleb(uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

// FuncType encodes a function type.
func FuncType(params, results []byte) []byte {
	b := []byte{0x60}
	b = append(b, Uleb(uint32(len(params)))...)
	b = append(b, params...)
	b = append(b, Uleb(uint32(len(results)))...)
	return append(b, results...)
}

// Import encodes an import of kind (0 func .. 4 tag) with desc after it.
func Import(mod, name string, kind byte, desc ...byte) []byte {
	b := append(Name(mod), Name(name)...)
	b = append(b, kind)
	return append(b, desc...)
}

// Export encodes an export.
func Export(name string, kind byte, index uint32) []byte {
	return append(append(Name(name), kind), Uleb(index)...)
}

// Body encodes a function body: no locals, then code, then end.
func Body(code ...byte) []byte {
	b := append([]byte{0x00}, code...)
	b = append(b, 0x0b)
	return append(Uleb(uint32(len(b))), b...)
}

// I32Const is the constant expression `i32.const v; end` (v < 64).
func I32Const(v byte) []byte { return []byte{0x41, v, 0x0b} }

// Everything is a module with imports and exports of every kind, a table,
// a shared memory, globals of every value type, a tag, a start function, element segments in
// all eight encodings, passive and active data and custom sections: it uses
// threads, exceptions, SIMD, multi-value, reference types and bulk memory.
func Everything() *Module {
	m := &Module{}
	m.Add(SecCustom, Name("first"), []byte("payload"))
	m.Add(SecType, Vec(
		FuncType(nil, nil),                       // 0: () -> ()
		FuncType([]byte{I32, I32}, []byte{I32}),  // 1: add
		FuncType([]byte{I32}, nil),               // 2: log / tag
		FuncType([]byte{V128}, []byte{I64, F64}), // 3: simd, multi-value
	))
	m.Add(SecImport, Vec(
		Import("env", "log", 0, 2),
		Import("env", "table", 1, FuncRef, 0x00, 1),
		Import("env", "memory", 2, 0x03, 1, 16),
		Import("env", "g", 3, I32, 0),
		Import("env", "exn", 4, 0x00, 2),
	))
	m.Add(SecFunction, Vec([]byte{1}, []byte{0}, []byte{3}))
	m.Add(SecTable, Vec([]byte{ExternRef, 0x01, 0, 4}))
	m.Add(SecTag, Vec([]byte{0x00, 2}))
	m.Add(SecGlobal, Vec(
		append([]byte{I64, 1}, 0x42, 0x7f, 0x0b),
		append([]byte{F32, 0}, 0x43, 0, 0, 0x80, 0x3f, 0x0b),
		append([]byte{F64, 0}, 0x44, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x0b),
		append(append([]byte{V128, 0}, 0xfd, 12), append(make([]byte, 16), 0x0b)...),
		[]byte{FuncRef, 0, 0xd2, 1, 0x0b},
		[]byte{ExternRef, 0, 0xd0, ExternRef, 0x0b},
		[]byte{I32, 0, 0x23, 0, 0x41, 2, 0x6a, 0x0b},
	))
	m.Add(SecExport, Vec(
		Export("add", 0, 1),
		Export("log_again", 0, 0),
		Export("simd", 0, 3),
		Export("table", 1, 0),
		Export("memory", 2, 0),
		Export("g", 3, 0),
		Export("h", 3, 1),
		Export("exn", 4, 0),
	))
	m.Add(SecStart, Uleb(2))
	m.Add(SecElement, Vec(
		append(append([]byte{0}, I32Const(0)...), Vec([]byte{1}, []byte{2})...),                                      // 0
		append([]byte{1, 0x00}, Vec([]byte{1})...),                                                                   // 1
		append(append([]byte{2, 0}, I32Const(1)...), append([]byte{0x00}, Vec([]byte{2})...)...),                     // 2
		append([]byte{3, 0x00}, Vec([]byte{3})...),                                                                   // 3
		append(append([]byte{4}, I32Const(2)...), Vec([]byte{0xd2, 1, 0x0b}, []byte{0xd0, 0x70, 0x0b})...),           // 4
		append([]byte{5, FuncRef}, Vec([]byte{0xd2, 3, 0x0b})...),                                                    // 5
		append(append([]byte{6, 1}, I32Const(0)...), append([]byte{ExternRef}, Vec([]byte{0xd0, 0x6f, 0x0b})...)...), // 6
		append([]byte{7, FuncRef}, Vec([]byte{0xd2, 0, 0x0b})...),                                                    // 7
	))
	m.Add(SecDataCount, Uleb(3))
	m.Add(SecCode, Vec(
		Body(0x20, 0, 0x20, 1, 0x6a), // add: local.get 0, local.get 1, i32.add
		Body(),
		Body(0x42, 1, 0x44, 0, 0, 0, 0, 0, 0, 0, 0),
	))
	m.Add(SecCustom, Name("notes"), []byte{})
	m.Add(SecData, Vec(
		append(append([]byte{0}, I32Const(0)...), Name("hello")...),
		append([]byte{1}, Name("passive")...),
		append(append([]byte{2, 0}, I32Const(8)...), Vec()...),
	))
	m.Add(SecCustom, Name("last"), nil)
	return m
}

// WithSize encodes m with the size field of section i changed by delta
// (the section's bytes stay as they are): a size one byte too long or too
// short.
func (m *Module) WithSize(i, delta int) []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	for j, s := range m.Sections {
		size := len(s.Body)
		if j == i {
			size += delta
		}
		out = append(out, s.ID)
		out = U32(out, uint32(size))
		out = append(out, s.Body...)
	}
	return out
}

// SectionBoundaries returns the offset of every section's start in the
// well-formed core module b, then len(b): where truncations cut a module
// between sections.
func SectionBoundaries(b []byte) []int {
	out := []int{}
	i := 8
	for i < len(b) {
		out = append(out, i)
		size, n := binary.Uvarint(b[i+1:])
		if n <= 0 {
			break
		}
		i += 1 + n + int(size)
	}
	return append(out, len(b))
}

// Small is a valid module: one type, one function add(i32, i32) -> i32,
// exported.
func Small() *Module {
	m := &Module{}
	m.Add(SecType, Vec(FuncType([]byte{I32, I32}, []byte{I32})))
	m.Add(SecFunction, Vec([]byte{0}))
	m.Add(SecExport, Vec(Export("add", 0, 0)))
	m.Add(SecCode, Vec(Body(0x20, 0, 0x20, 1, 0x6a)))
	return m
}

// InvalidForWazero passes the structural parse, but its one function
// returns nothing while its body leaves an i32: wazero refuses it.
func InvalidForWazero() []byte {
	m := &Module{}
	m.Add(SecType, Vec(FuncType(nil, nil)))
	m.Add(SecFunction, Vec([]byte{0}))
	m.Add(SecCode, Vec(Body(0x41, 1)))
	return m.Bytes()
}
