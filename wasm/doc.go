// Package wasm reads the structure of WebAssembly binaries as they stream
// in, and records what they hold (Info): the parse that an upload runs in
// the same pass as its hash (issue 9).
//
// # What is checked
//
// Parser checks the 8-byte header; every section's id, size and bounds; the
// section order of the core specification (custom sections anywhere; tag
// between memory and global, data count between element and code; each
// other section at most once); the framing and counts of the type, import,
// function, table, memory, tag, global, export, start, element, data-count,
// code and data sections; that the function and code sections agree in
// count and the data count and data sections too; that every function body
// and data payload lies inside its section; that every LEB128 is within its
// limits (a u32 in at most 5 bytes, unused bits zero); that names are valid
// UTF-8; that no two exports share a name; that indices (types, functions,
// tables, memories, globals, tags) are in range; that constant expressions
// hold only constant instructions up to their end; and that nothing follows
// the last section. Instructions inside function bodies are not decoded:
// package validate compiles a module with wazero for that.
//
// A component-model binary (version 0d 00 01 00) has its header checked
// and is recorded as KindComponent; its inside is not parsed.
//
// # Guarantees
//
//   - One pass, in order: Write takes chunks of any size (the result never
//     depends on how the bytes are cut), never reads anything twice, and
//     holds at most one entry of the input (MaxEntry) plus what Info
//     records. Function bodies, data payloads and custom section payloads
//     are skipped by size.
//   - No count or size read from the input makes the parser allocate more
//     than the bytes actually present: every count is checked against the
//     bytes left in its section before anything is made for it.
//   - Every refusal is a *FormatError: one line naming what is wrong, the
//     section and the byte offset, e.g. `section 10 (code) at byte 1234 runs
//     88 bytes past the end of the file`. It matches ErrInvalidModule and
//     errdefs.ErrInvalid with errors.Is.
//   - Info's binary encoding (MarshalBinary) is versioned; UnmarshalBinary
//     refuses anything else as errdefs.ErrCorrupt.
//
// # Caveats
//
//   - Features are what the structure shows (a shared memory means threads,
//     v128 in a type SIMD, and so on). A feature used only by instructions
//     inside function bodies (atomics, sign extension, tail calls) is not
//     seen.
//   - Only function types (form 0x60) are known in the type section: a
//     module using garbage-collection types (rec, sub, struct, array) is
//     refused, as are constant expressions with GC instructions.
//   - An entry longer than MaxEntry (1 MiB), e.g. a name of megabytes, is
//     refused though the specification allows it.
package wasm
