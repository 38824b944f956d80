package errdefs

// Narrower errors of the module store that cross a process boundary: the
// control API gives each a code of its own, and its client, which links no
// store, turns the code back into the same sentinel, so errors.Is works
// across the wire. repo returns them; each wraps its class.
var (
	// ErrNotWasm: the bytes are not a WebAssembly binary (the message says
	// what they look like instead). It is an ErrInvalid.
	ErrNotWasm = Narrow("not a WebAssembly module", ErrInvalid)
	// ErrEmpty: no bytes at all. It is an ErrInvalid.
	ErrEmpty = Narrow("empty module", ErrInvalid)
	// ErrModuleCorrupt: an indexed blob is missing, of the wrong size, or
	// its bytes do not match their digest: damage in the store. Nothing of
	// it is handed out as the module. It is an ErrCorrupt; an upload whose
	// bytes do not match the digest its caller claimed is an ErrCorrupt too
	// but not an ErrModuleCorrupt (the caller's mistake, not damage), so
	// surfaces test ErrModuleCorrupt first.
	ErrModuleCorrupt = Narrow("stored module is corrupt", ErrCorrupt)
	// ErrNotEmpty: a backup or restore target that already holds
	// something. It is an ErrInvalid (a bad argument: the target).
	ErrNotEmpty = Narrow("target is not empty", ErrInvalid)
)
