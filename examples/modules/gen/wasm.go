package main

import (
	"bytes"
	"encoding/binary"
)

// A tiny encoder for the binary format of the example modules: just the
// sections and instructions they use (types, imports, functions, memory,
// exports, code, data; local.get, i32.const, i32.add, i32.mul, call, drop,
// unreachable). It writes what wat2wasm writes for the same text, so the
// .wasm files can be rebuilt with nothing from outside the repository.

// Value types.
const (
	i32 byte = 0x7f
	i64 byte = 0x7e
	f32 byte = 0x7d
	f64 byte = 0x7c
)

// Export kinds.
const (
	exportFunc   byte = 0x00
	exportMemory byte = 0x02
)

// funcType is a function signature.
type funcType struct{ params, results []byte }

// importFunc is an imported function.
type importFunc struct {
	module, name string
	typ          int // index in module.types
}

// function is a function defined in the module.
type function struct {
	typ  int    // index in module.types
	body []byte // instructions, without the final end
}

type export struct {
	name string
	kind byte
	idx  int
}

// data is an active data segment of memory 0 at a constant offset.
type data struct {
	offset int32
	bytes  []byte
}

// module is a whole module. Function indexes count imports first.
type module struct {
	types   []funcType
	imports []importFunc
	funcs   []function
	memory  int // minimum pages of memory 0; 0: no memory
	exports []export
	data    []data
}

// Instructions.
func localGet(i int) []byte   { return binary.AppendUvarint([]byte{0x20}, uint64(i)) }
func i32Const(v int32) []byte { return appendSLEB([]byte{0x41}, int64(v)) }
func call(i int) []byte       { return binary.AppendUvarint([]byte{0x10}, uint64(i)) }

var (
	i32Add      = []byte{0x6a}
	i32Mul      = []byte{0x6c}
	drop        = []byte{0x1a}
	unreachable = []byte{0x00}
)

const end = 0x0b

func code(instrs ...[]byte) []byte { return bytes.Join(instrs, nil) }

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendU(b []byte, n int) []byte { return binary.AppendUvarint(b, uint64(n)) }

func appendName(b []byte, s string) []byte { return append(appendU(b, len(s)), s...) }

// encode writes the module in the binary format, sections in their
// required order, empty sections left out.
func (m *module) encode() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	section := func(id byte, n int, body []byte) {
		if n == 0 {
			return
		}
		content := appendU(nil, n)
		content = append(content, body...)
		out = append(out, id)
		out = appendU(out, len(content))
		out = append(out, content...)
	}

	var b []byte
	for _, t := range m.types {
		b = append(b, 0x60)
		b = append(appendU(b, len(t.params)), t.params...)
		b = append(appendU(b, len(t.results)), t.results...)
	}
	section(1, len(m.types), b)

	b = nil
	for _, im := range m.imports {
		b = appendName(b, im.module)
		b = appendName(b, im.name)
		b = appendU(append(b, 0x00), im.typ)
	}
	section(2, len(m.imports), b)

	b = nil
	for _, f := range m.funcs {
		b = appendU(b, f.typ)
	}
	section(3, len(m.funcs), b)

	if m.memory > 0 {
		section(5, 1, appendU([]byte{0x00}, m.memory))
	}

	b = nil
	for _, e := range m.exports {
		b = appendName(b, e.name)
		b = appendU(append(b, e.kind), e.idx)
	}
	section(7, len(m.exports), b)

	b = nil
	for _, f := range m.funcs {
		body := append([]byte{0x00}, f.body...) // no locals
		body = append(body, end)
		b = append(appendU(b, len(body)), body...)
	}
	section(10, len(m.funcs), b)

	b = nil
	for _, d := range m.data {
		b = append(b, 0x00)
		b = append(append(b, i32Const(d.offset)...), end)
		b = append(appendU(b, len(d.bytes)), d.bytes...)
	}
	section(11, len(m.data), b)
	return out
}
