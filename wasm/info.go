package wasm

import (
	"strconv"
	"strings"
)

// Kind says what a binary is: a core module or a component-model component.
type Kind string

const (
	KindModule    Kind = "module"
	KindComponent Kind = "component"
)

// Extern kinds, as the JSON of imports and exports spells them (GMP.md,
// MODULE_INFO).
const (
	ExternFunc   = "func"
	ExternTable  = "table"
	ExternMemory = "memory"
	ExternGlobal = "global"
	ExternTag    = "tag"
)

// Info is what the parser records of a binary: the record kept with a
// version in the index and served as MODULE_INFO. For a component only Kind
// is set.
type Info struct {
	Kind    Kind     `json:"kind"`
	Imports []Import `json:"imports"`
	Exports []Export `json:"exports"`
	// Memories and Tables list every memory and table in index order,
	// imported ones first (Imported set).
	Memories []Limits `json:"memories,omitempty"`
	Tables   []Table  `json:"tables,omitempty"`
	// Functions is the number of functions the module defines (its code
	// section), not counting imports.
	Functions uint32 `json:"functions"`
	// Start is the index of the start function, when there is one.
	Start *uint32 `json:"start,omitempty"`
	// CustomSections holds the names of the custom sections in binary order.
	CustomSections []string `json:"custom_sections,omitempty"`
	// Features are the proposals the structure shows are used, sorted (see
	// the Feature constants), plus those a toolchain's target_features
	// custom section lists as used. Instructions inside function bodies
	// are not scanned, so a feature used only there and not listed by the
	// toolchain is not seen.
	Features []string `json:"features,omitempty"`
}

// Features the parser can see in a module's structure.
const (
	FeatureThreads        = "threads"             // a shared memory
	FeatureMultiMemory    = "multi-memory"        // more than one memory
	FeatureSIMD           = "simd"                // v128 in a type or a constant
	FeatureExceptions     = "exceptions"          // a tag section or a tag import/export
	FeatureMemory64       = "memory64"            // a 64-bit memory or table
	FeatureMultiValue     = "multi-value"         // a function type with more than one result
	FeatureReferenceTypes = "reference-types"     // externref, several tables, typed element segments
	FeatureBulkMemory     = "bulk-memory"         // data count section, passive or declarative segments
	FeatureMutableGlobals = "mutable-globals"     // a mutable global imported or exported
	FeatureExtendedConst  = "extended-const"      // add/sub/mul in a constant expression
	FeatureFunctionRefs   = "function-references" // typed (ref $t) value types

	// Seen only in a target_features custom section (LLVM's): these live
	// in instructions.
	FeatureSignExt            = "sign-ext"
	FeatureNontrappingFPToInt = "nontrapping-fptoint"
	FeatureTailCall           = "tail-call"
)

// Import is one import, in the order of the binary.
type Import struct {
	Module string `json:"module"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	// Params and Results are set (non-nil, possibly empty) for a func or a
	// tag: value types as "i32", "i64", "f32", "f64", "v128", "funcref",
	// "externref", or the text-format spelling of other reference types.
	Params  []string `json:"params,omitzero"`
	Results []string `json:"results,omitzero"`
	// Type and Mutable describe a global (Type is its value type) or a
	// table (Type is its element type).
	Type    string `json:"type,omitempty"`
	Mutable bool   `json:"mutable,omitempty"`
	// Limits of a memory or a table.
	Limits *Limits `json:"limits,omitempty"`
}

// Export is one export, in the order of the binary. Func and tag exports
// carry the types of the function or tag they name, global exports its
// value type, memory and table exports their limits. A func export's JSON
// is exactly GMP's: name, kind, params, results.
type Export struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Index is the function's (table's, ...) index in its index space;
	// not in the JSON, which is GMP's MODULE_INFO entry.
	Index   uint32   `json:"-"`
	Params  []string `json:"params,omitzero"`
	Results []string `json:"results,omitzero"`
	Type    string   `json:"type,omitempty"`
	Mutable bool     `json:"mutable,omitempty"`
	Limits  *Limits  `json:"limits,omitempty"`
}

// Limits are the size bounds of a memory (in 64 KiB pages) or a table (in
// elements).
type Limits struct {
	Min      uint64  `json:"min"`
	Max      *uint64 `json:"max,omitempty"`
	Shared   bool    `json:"shared,omitempty"`
	Is64     bool    `json:"is64,omitempty"`
	Imported bool    `json:"imported,omitempty"`
}

// Table is a table's element type and limits.
type Table struct {
	Type string `json:"type"`
	Limits
}

// Signature is the import as a person reads it: `log(i32)`,
// `add(i32, i32) -> i32`; other kinds as `memory mem 1..16 shared`.
func (im Import) Signature() string {
	return signature(im.Kind, im.Name, im.Params, im.Results, im.Type, im.Mutable, im.Limits)
}

// Signature is the export as a person reads it: `add(i32, i32) -> i32`.
func (ex Export) Signature() string {
	return signature(ex.Kind, ex.Name, ex.Params, ex.Results, ex.Type, ex.Mutable, ex.Limits)
}

func signature(kind, name string, params, results []string, typ string, mut bool, lim *Limits) string {
	var b strings.Builder
	switch kind {
	case ExternFunc, ExternTag:
		if kind == ExternTag {
			b.WriteString("tag ")
		}
		b.WriteString(name)
		b.WriteByte('(')
		b.WriteString(strings.Join(params, ", "))
		b.WriteByte(')')
		switch len(results) {
		case 0:
		case 1:
			b.WriteString(" -> ")
			b.WriteString(results[0])
		default:
			b.WriteString(" -> (")
			b.WriteString(strings.Join(results, ", "))
			b.WriteByte(')')
		}
	case ExternGlobal:
		b.WriteString("global ")
		b.WriteString(name)
		b.WriteString(": ")
		if mut {
			b.WriteString("mut ")
		}
		b.WriteString(typ)
	default: // memory, table
		b.WriteString(kind)
		b.WriteByte(' ')
		b.WriteString(name)
		if typ != "" {
			b.WriteByte(' ')
			b.WriteString(typ)
		}
		if lim != nil {
			b.WriteByte(' ')
			b.WriteString(lim.String())
		}
	}
	return b.String()
}

// String is the limits as `1..16`, `1..` (no maximum), with ` shared` and
// ` i64` where they apply.
func (l Limits) String() string {
	s := strconv.FormatUint(l.Min, 10) + ".."
	if l.Max != nil {
		s += strconv.FormatUint(*l.Max, 10)
	}
	if l.Is64 {
		s += " i64"
	}
	if l.Shared {
		s += " shared"
	}
	return s
}
