package wasm

import (
	"bytes"
	"fmt"
)

var (
	magic            = []byte{0x00, 0x61, 0x73, 0x6d}
	versionModule    = []byte{0x01, 0x00, 0x00, 0x00}
	versionComponent = []byte{0x0d, 0x00, 0x01, 0x00}
)

// entry decodes one entry for the current state from r. It commits what
// it found to p only when the whole entry was read (r.err == nil), so a
// short read can be retried with more bytes. An error it returns (rather
// than leaves in r.err) is final.
func (p *Parser) entry(r *reader) error {
	switch p.st {
	case stHeader:
		h := r.bytes(8)
		if r.err != nil {
			return nil
		}
		if !bytes.Equal(h[:4], magic) {
			return p.errorf(0, "not a WebAssembly binary: the file begins % x, not 00 61 73 6d (\\0asm)", h[:4])
		}
		switch {
		case bytes.Equal(h[4:], versionModule):
			p.st = stSection
		case bytes.Equal(h[4:], versionComponent):
			p.st = stComponent
		default:
			return p.errorf(4, "unknown WebAssembly version % x (a module has 01 00 00 00, a component 0d 00 01 00)", h[4:])
		}
		return nil
	case stSection:
		return p.sectionHeader(r)
	case stCount:
		return p.count(r)
	case stBodySize:
		return p.bodySize(r)
	case stCustom:
		name := r.name(what{format: "the custom section's name"})
		if r.err != nil {
			return nil
		}
		p.info.CustomSections = append(p.info.CustomSections, name)
		p.st = stSkip
		p.skipEnd = p.secEnd
		if name == "target_features" {
			p.targetFeatures = []byte{}
		}
		return nil
	case stElemItem:
		if p.elemExprs {
			p.constExpr(r, what{format: "an element expression"})
		} else {
			p.funcIndex(r, what{format: "element"})
		}
		if r.err == nil {
			p.elemLeft--
		}
		return nil
	}
	switch p.sec {
	case secType:
		p.typeEntry(r)
	case secImport:
		return p.importEntry(r)
	case secFunction:
		t := r.u32()
		if r.err == nil {
			if t >= uint32(len(p.types)) {
				return p.errorf(r.base, "function %d has type %d but there are %d types", uint32(len(p.funcs)), t, len(p.types))
			}
			p.funcs = append(p.funcs, t)
		}
	case secTable:
		p.tableEntry(r)
	case secMemory:
		lim := p.limits(r, true)
		if r.err == nil {
			p.info.Memories = append(p.info.Memories, lim)
		}
	case secTag:
		t := p.tagType(r)
		if r.err == nil {
			p.tags = append(p.tags, t)
		}
	case secGlobal:
		g := p.globalType(r)
		p.constExpr(r, what{format: "a global's initializer"})
		if r.err == nil {
			p.globals = append(p.globals, g)
		}
	case secExport:
		return p.exportEntry(r)
	case secStart:
		f := p.funcIndex(r, what{format: "the start section"})
		if r.err == nil {
			p.info.Start = &f
		}
	case secDataCount:
		n := r.u32()
		if r.err == nil {
			p.dataCount = &n
		}
	case secElement:
		p.elemSegment(r)
	case secData:
		p.dataSegment(r)
	}
	return nil
}

// sectionHeader reads a section's id and size and checks its order.
func (p *Parser) sectionHeader(r *reader) error {
	at := p.off
	id := r.byte()
	if r.err == nil && int(id) >= len(sectionNames) {
		return p.errorf(at, "unknown section id %d (nothing may follow the last section)", id)
	}
	size := r.u32()
	if r.err != nil {
		return nil
	}
	p.sec = id
	p.secStart = at
	p.secEnd = at + int64(r.i) + int64(size)
	p.index = 0
	p.left = 0
	if id == secCustom {
		p.st = stCustom
		return nil
	}
	rank := sectionRank[id]
	if p.seen[id] {
		return p.errorf(at, "section %d (%s) appears twice", id, sectionNames[id])
	}
	if rank < p.lastRank {
		return p.errorf(at, "section %d (%s) comes after a later section; the order is type, import, function, table, memory, tag, global, export, start, element, datacount, code, data", id, sectionNames[id])
	}
	p.seen[id] = true
	p.lastRank = rank
	p.st = stCount
	switch id {
	case secStart, secDataCount:
		// a single index, not a vector
		p.left = 1
		p.st = stEntry
	}
	if id == secDataCount {
		p.feature(FeatureBulkMemory)
	}
	if id == secTag {
		p.feature(FeatureExceptions)
	}
	return nil
}

// minEntry is the fewest bytes one entry of each vector section takes.
var minEntry = [...]int{
	secType: 3, secImport: 4, secFunction: 1, secTable: 3, secMemory: 2, secGlobal: 3,
	secExport: 3, secElement: 3, secCode: 2, secData: 2, secTag: 2,
}

func (p *Parser) count(r *reader) error {
	n := r.count(what{format: entryName(p.sec)}, minEntry[p.sec], p.secEnd-p.off)
	if r.err != nil {
		return nil
	}
	p.left = n
	switch p.sec {
	case secCode:
		p.codeCount = n
		if want := uint32(len(p.funcs)) - p.importFuncs; n != want {
			return p.errorf(p.off, "the code section has %d function bodies but the function section declares %d functions", n, want)
		}
	case secData:
		if p.dataCount != nil && *p.dataCount != n {
			return p.errorf(p.off, "the data section has %d segments but the data count section says %d", n, *p.dataCount)
		}
	}
	return nil
}

func (p *Parser) bodySize(r *reader) error {
	size := r.u32()
	if r.err != nil {
		return nil
	}
	remain := p.secEnd - p.off - int64(r.i)
	if int64(size) > remain {
		return p.errorf(p.off, "function %d's body is %d bytes but only %d remain", p.importFuncs+p.index, size, remain)
	}
	if size == 0 {
		return p.errorf(p.off, "function %d's body is empty", p.importFuncs+p.index)
	}
	p.st = stSkip
	p.skipEnd = p.off + int64(r.i) + int64(size)
	return nil
}

func (p *Parser) typeEntry(r *reader) {
	at := r.i
	form := r.byte()
	if r.err != nil {
		return
	}
	if form != 0x60 {
		r.i = at
		r.fail("type %d has form 0x%02x; the parser knows function types (0x60) only", len(p.types), form)
		return
	}
	limit := p.secEnd - r.base
	params := p.valTypes(r, what{format: "parameter"}, limit)
	results := p.valTypes(r, what{format: "result"}, limit)
	if r.err != nil {
		return
	}
	if len(results) > 1 {
		p.feature(FeatureMultiValue)
	}
	p.types = append(p.types, funcType{params, results})
}

func (p *Parser) valTypes(r *reader, w what, limit int64) []string {
	n := r.count(w, 1, limit)
	if r.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for range n {
		t := p.valType(r)
		if r.err != nil {
			return nil
		}
		out = append(out, t)
	}
	return out
}

// numTypes are the number and vector types by their one-byte code ("" for
// a code that is none). These tables are arrays, not maps: an array
// literal is data in the binary, where a map is built by code at package
// initialisation, which every gpmd process (the command line's start,
// issue 15) would run.
var numTypes = [256]string{0x7f: "i32", 0x7e: "i64", 0x7d: "f32", 0x7c: "f64", 0x7b: "v128"}

// heapTypes are the abstract heap types, by their one-byte code, and the
// shorthand reference type each has in the text format ({"", ""} for a
// code that is none).
var heapTypes = [256][2]string{
	0x70: {"func", "funcref"}, 0x6f: {"extern", "externref"}, 0x6e: {"any", "anyref"},
	0x6d: {"eq", "eqref"}, 0x6c: {"i31", "i31ref"}, 0x6b: {"struct", "structref"},
	0x6a: {"array", "arrayref"}, 0x71: {"none", "nullref"}, 0x72: {"noextern", "nullexternref"},
	0x73: {"nofunc", "nullfuncref"}, 0x69: {"exn", "exnref"}, 0x74: {"noexn", "nullexnref"},
}

func (p *Parser) valType(r *reader) string {
	at := r.i
	c := r.byte()
	if r.err != nil {
		return ""
	}
	if t := numTypes[c]; t != "" {
		if c == 0x7b {
			p.feature(FeatureSIMD)
		}
		return t
	}
	r.i = at
	return p.refType(r)
}

func (p *Parser) refType(r *reader) string {
	at := r.i
	c := r.byte()
	if r.err != nil {
		return ""
	}
	if h := heapTypes[c]; h[0] != "" {
		if c != 0x70 {
			p.feature(FeatureReferenceTypes)
		}
		return h[1]
	}
	if c == 0x63 || c == 0x64 { // (ref null ht), (ref ht)
		ht := p.heapType(r)
		if r.err != nil {
			return ""
		}
		p.feature(FeatureFunctionRefs)
		if c == 0x63 {
			return "(ref null " + ht + ")"
		}
		return "(ref " + ht + ")"
	}
	r.i = at
	r.fail("unknown value type 0x%02x", c)
	return ""
}

// heapType reads an s33: an abstract heap type (one negative byte) or a
// type index.
func (p *Parser) heapType(r *reader) string {
	at := r.i
	c := r.byte()
	if r.err != nil {
		return ""
	}
	if h := heapTypes[c]; h[0] != "" {
		return h[0]
	}
	r.i = at
	v := r.sleb(33)
	if r.err != nil {
		return ""
	}
	if v < 0 || v >= int64(len(p.types)) {
		r.i = at
		r.fail("heap type %d is neither an abstract type nor one of the %d types", v, len(p.types))
		return ""
	}
	return fmt.Sprint(v)
}

// limits reads memory or table limits; mem says which (a table is never
// shared).
func (p *Parser) limits(r *reader, mem bool) Limits {
	at := r.i
	flags := r.byte()
	if r.err != nil {
		return Limits{}
	}
	if flags > 7 || !mem && flags&2 != 0 {
		r.i = at
		r.fail("limits have unknown flags 0x%02x", flags)
		return Limits{}
	}
	l := Limits{Shared: flags&2 != 0, Is64: flags&4 != 0}
	bits := uint(32)
	if l.Is64 {
		bits = 64
		p.feature(FeatureMemory64)
	}
	l.Min = r.uleb(bits)
	if flags&1 != 0 {
		m := r.uleb(bits)
		l.Max = &m
	}
	if r.err != nil {
		return Limits{}
	}
	if l.Max != nil && *l.Max < l.Min {
		r.i = at
		r.fail("limits have maximum %d below minimum %d", *l.Max, l.Min)
		return Limits{}
	}
	if l.Shared {
		if l.Max == nil {
			r.i = at
			r.fail("a shared memory needs a maximum")
			return Limits{}
		}
		p.feature(FeatureThreads)
	}
	return l
}

func (p *Parser) tableType(r *reader) Table {
	t := p.refType(r)
	l := p.limits(r, false)
	return Table{Type: t, Limits: l}
}

func (p *Parser) tableEntry(r *reader) {
	at := r.i
	c := r.byte()
	if r.err != nil {
		return
	}
	if c == 0x40 { // a table with an initializer (function references)
		if z := r.byte(); r.err == nil && z != 0 {
			r.fail("table %d has unknown prefix 0x40 0x%02x", len(p.info.Tables), z)
			return
		}
		t := p.tableType(r)
		p.constExpr(r, what{format: "a table's initializer"})
		if r.err == nil {
			p.info.Tables = append(p.info.Tables, t)
		}
		return
	}
	r.i = at
	t := p.tableType(r)
	if r.err == nil {
		p.info.Tables = append(p.info.Tables, t)
	}
}

func (p *Parser) globalType(r *reader) globalType {
	t := p.valType(r)
	at := r.i
	m := r.byte()
	if r.err != nil {
		return globalType{}
	}
	if m > 1 {
		r.i = at
		r.fail("global mutability is 0x%02x, not 0 or 1", m)
		return globalType{}
	}
	return globalType{typ: t, mut: m == 1}
}

func (p *Parser) tagType(r *reader) uint32 {
	at := r.i
	attr := r.byte()
	t := r.u32()
	if r.err != nil {
		return 0
	}
	if attr != 0 {
		r.i = at
		r.fail("tag attribute is 0x%02x, not 0 (exception)", attr)
		return 0
	}
	if t >= uint32(len(p.types)) {
		r.i = at
		r.fail("tag has type %d but there are %d types", t, len(p.types))
		return 0
	}
	return t
}

func (p *Parser) importEntry(r *reader) error {
	mod := r.name(what{"import %d's module name", p.index})
	name := r.name(what{"import %d's name", p.index})
	at := r.i
	kind := r.byte()
	if r.err != nil {
		return nil
	}
	im := Import{Module: mod, Name: name}
	// commit records the import in its index space, once the whole entry
	// has been read.
	var commit func()
	switch kind {
	case 0x00:
		im.Kind = ExternFunc
		t := r.u32()
		if r.err != nil {
			return nil
		}
		if t >= uint32(len(p.types)) {
			return p.errorf(r.base+int64(at), "import %d (%s.%s) has type %d but there are %d types", p.index, mod, name, t, len(p.types))
		}
		im.Params, im.Results = p.sig(t)
		commit = func() {
			p.funcs = append(p.funcs, t)
			p.importFuncs++
		}
	case 0x01:
		im.Kind = ExternTable
		t := p.tableType(r)
		t.Imported = true
		im.Type, im.Limits = t.Type, &t.Limits
		commit = func() {
			p.info.Tables = append(p.info.Tables, t)
		}
	case 0x02:
		im.Kind = ExternMemory
		l := p.limits(r, true)
		l.Imported = true
		im.Limits = &l
		commit = func() {
			p.info.Memories = append(p.info.Memories, l)
		}
	case 0x03:
		im.Kind = ExternGlobal
		g := p.globalType(r)
		im.Type, im.Mutable = g.typ, g.mut
		if g.mut {
			p.feature(FeatureMutableGlobals)
		}
		commit = func() {
			p.globals = append(p.globals, g)
		}
	case 0x04:
		im.Kind = ExternTag
		t := p.tagType(r)
		if r.err == nil {
			im.Params, im.Results = p.sig(t)
			p.feature(FeatureExceptions)
		}
		commit = func() {
			p.tags = append(p.tags, t)
		}
	default:
		return p.errorf(r.base+int64(at), "import %d (%s.%s) has unknown kind 0x%02x", p.index, mod, name, kind)
	}
	if r.err != nil {
		return nil
	}
	commit()
	p.info.Imports = append(p.info.Imports, im)
	return nil
}

// sig returns copies of type t's parameters and results, never nil.
func (p *Parser) sig(t uint32) (params, results []string) {
	ft := p.types[t]
	return append([]string{}, ft.params...), append([]string{}, ft.results...)
}

func (p *Parser) exportEntry(r *reader) error {
	name := r.name(what{"export %d's name", p.index})
	at := r.i
	kind := r.byte()
	idx := r.u32()
	if r.err != nil {
		return nil
	}
	where := r.base + int64(at)
	if _, dup := p.exportNames[name]; dup {
		return p.errorf(r.base, "export %d has the name %q, which an earlier export has", p.index, name)
	}
	ex := Export{Name: name, Index: idx}
	var n int
	switch kind {
	case 0x00:
		ex.Kind, n = ExternFunc, len(p.funcs)
		if int(idx) < n {
			ex.Params, ex.Results = p.sig(p.funcs[idx])
		}
	case 0x01:
		ex.Kind, n = ExternTable, len(p.info.Tables)
		if int(idx) < n {
			t := p.info.Tables[idx]
			ex.Type, ex.Limits = t.Type, &t.Limits
		}
	case 0x02:
		ex.Kind, n = ExternMemory, len(p.info.Memories)
		if int(idx) < n {
			l := p.info.Memories[idx]
			ex.Limits = &l
		}
	case 0x03:
		ex.Kind, n = ExternGlobal, len(p.globals)
		if int(idx) < n {
			g := p.globals[idx]
			ex.Type, ex.Mutable = g.typ, g.mut
			if g.mut {
				p.feature(FeatureMutableGlobals)
			}
		}
	case 0x04:
		ex.Kind, n = ExternTag, len(p.tags)
		if int(idx) < n {
			ex.Params, ex.Results = p.sig(p.tags[idx])
		}
	default:
		return p.errorf(where, "export %d (%q) has unknown kind 0x%02x", p.index, name, kind)
	}
	if int(idx) >= n {
		return p.errorf(where, "export %d (%q) names %s %d but there are %d", p.index, name, ex.Kind, idx, n)
	}
	p.exportNames[name] = struct{}{}
	p.info.Exports = append(p.info.Exports, ex)
	return nil
}

func (p *Parser) funcIndex(r *reader, w what) uint32 {
	at := r.i
	f := r.u32()
	if r.err == nil && f >= uint32(len(p.funcs)) {
		r.i = at
		r.fail("%s names function %d but there are %d", w, f, len(p.funcs))
	}
	return f
}

// constExpr skips a constant expression up to its end opcode, reading the
// immediates of the instructions a constant expression may hold (core,
// SIMD's v128.const, reference types, extended-const).
func (p *Parser) constExpr(r *reader, what what) {
	for r.err == nil {
		at := r.i
		op := r.byte()
		switch op {
		case 0x0b: // end
			return
		case 0x41: // i32.const
			r.sleb(32)
		case 0x42: // i64.const
			r.sleb(64)
		case 0x43: // f32.const
			r.bytes(4)
		case 0x44: // f64.const
			r.bytes(8)
		case 0x23: // global.get
			g := r.u32()
			if r.err == nil && g >= uint32(len(p.globals)) {
				r.i = at
				r.fail("%s reads global %d but there are %d", what, g, len(p.globals))
			}
		case 0xd0: // ref.null
			p.heapType(r)
			p.feature(FeatureReferenceTypes)
		case 0xd2: // ref.func
			p.funcIndex(r, what)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // i32/i64 add, sub, mul
			p.feature(FeatureExtendedConst)
		case 0xfd:
			sub := r.u32()
			if r.err == nil && sub != 12 {
				r.i = at
				r.fail("%s holds the SIMD instruction 0xfd %d, which is not constant", what, sub)
				return
			}
			r.bytes(16)
			p.feature(FeatureSIMD)
		default:
			if r.err == nil {
				r.i = at
				r.fail("%s holds opcode 0x%02x, which is not a constant instruction", what, op)
			}
		}
	}
}

func (p *Parser) elemSegment(r *reader) {
	at := r.i
	flags := r.u32()
	if r.err != nil {
		return
	}
	if flags > 7 {
		r.i = at
		r.fail("element segment %d has unknown flags %d", p.index, flags)
		return
	}
	// bit 0: passive or declarative; bit 1: with bit 0 declarative, else
	// an explicit table index; bit 2: elements are expressions.
	active := flags&1 == 0
	if active && flags&2 != 0 {
		t := r.u32()
		if r.err == nil && t >= uint32(len(p.info.Tables)) {
			r.i = at
			r.fail("element segment %d is for table %d but there are %d", p.index, t, len(p.info.Tables))
			return
		}
		if t != 0 {
			p.feature(FeatureReferenceTypes)
		}
	}
	if active {
		p.constExpr(r, what{"element segment %d's offset", p.index})
	} else {
		p.feature(FeatureBulkMemory)
	}
	if flags&3 != 0 { // an element kind or reference type follows
		if flags&4 != 0 {
			p.refType(r)
		} else {
			ka := r.i
			if k := r.byte(); r.err == nil && k != 0 {
				r.i = ka
				r.fail("element segment %d has element kind 0x%02x, not 0 (funcref)", p.index, k)
				return
			}
		}
	}
	n := r.count(what{"element segment %d's element", p.index}, 1, p.secEnd-r.base)
	if r.err != nil {
		return
	}
	p.elemExprs = flags&4 != 0
	p.elemLeft = n
}

func (p *Parser) dataSegment(r *reader) {
	at := r.i
	flags := r.u32()
	if r.err != nil {
		return
	}
	switch flags {
	case 0:
		if len(p.info.Memories) == 0 {
			r.i = at
			r.fail("data segment %d is for memory 0 but there are no memories", p.index)
			return
		}
	case 1:
		p.feature(FeatureBulkMemory)
	case 2:
		m := r.u32()
		if r.err == nil && m >= uint32(len(p.info.Memories)) {
			r.i = at
			r.fail("data segment %d is for memory %d but there are %d", p.index, m, len(p.info.Memories))
			return
		}
	default:
		r.i = at
		r.fail("data segment %d has unknown flags %d", p.index, flags)
		return
	}
	if flags != 1 {
		p.constExpr(r, what{"data segment %d's offset", p.index})
	}
	la := r.i
	size := r.u32()
	if r.err != nil {
		return
	}
	if remain := p.secEnd - r.base - int64(r.i); int64(size) > remain {
		r.i = la
		r.fail("data segment %d is %d bytes but only %d remain in the section", p.index, size, remain)
		return
	}
	p.st = stSkip
	p.skipEnd = r.base + int64(r.i) + int64(size)
}

// maxTargetFeatures bounds the target_features section the parser reads;
// a larger one is ignored (LLVM writes a few hundred bytes).
const maxTargetFeatures = 4 << 10

// toolchainFeature is Info's name of a feature named in LLVM's
// target_features section, "" for one Info does not track; features only
// instructions use (atomics, sign extension) are seen this way, when the
// toolchain says so. A switch, not a map: no work at package
// initialisation (see numTypes).
func toolchainFeature(name string) string {
	switch name {
	case "atomics", "shared-mem":
		return FeatureThreads
	case "simd128":
		return FeatureSIMD
	case "multivalue":
		return FeatureMultiValue
	case "exception-handling":
		return FeatureExceptions
	case "multimemory":
		return FeatureMultiMemory
	case "memory64":
		return FeatureMemory64
	case "reference-types":
		return FeatureReferenceTypes
	case "bulk-memory":
		return FeatureBulkMemory
	case "mutable-globals":
		return FeatureMutableGlobals
	case "extended-const":
		return FeatureExtendedConst
	case "sign-ext":
		return FeatureSignExt
	case "nontrapping-fptoint":
		return FeatureNontrappingFPToInt
	case "tail-call":
		return FeatureTailCall
	}
	return ""
}

// readTargetFeatures adds the features a target_features custom section
// lists as used ('+') or required ('='). A custom section never makes a
// module invalid, so a malformed one is ignored.
func (p *Parser) readTargetFeatures() {
	b := p.targetFeatures
	p.targetFeatures = nil
	if len(b) >= maxTargetFeatures {
		return
	}
	r := reader{b: b, p: p}
	n := r.count(what{format: "target feature"}, 2, int64(len(b)))
	var found []string
	for range n {
		prefix := r.byte()
		name := r.name(what{format: "target feature"})
		if r.err != nil {
			return
		}
		if f := toolchainFeature(name); f != "" && (prefix == '+' || prefix == '=') {
			found = append(found, f)
		}
	}
	if r.err != nil || r.i != len(b) {
		return
	}
	for _, f := range found {
		p.feature(f)
	}
}
