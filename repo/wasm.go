package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"
)

// wasmMagic opens every WebAssembly binary: "\0asm" then the binary format
// version as a little-endian uint32. Only version 1 exists.
var wasmMagic = []byte{0x00, 0x61, 0x73, 0x6d}

const wasmHeaderLen = 8

// readWasmHeader reads the first bytes of body, checks them, and returns a
// reader of the whole body again (the header, then the rest of body read
// straight from it, with no copy in between).
func readWasmHeader(body io.Reader) (io.Reader, error) {
	head := make([]byte, wasmHeaderLen)
	n, err := io.ReadFull(body, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("reading module: %w", err)
	}
	if err := checkWasmHeader(head[:n]); err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(head), body), nil
}

// checkWasmHeader says, when head (the first bytes of a module, up to
// wasmHeaderLen) is not a WebAssembly binary header, what it looks like
// instead, so that a person who uploaded the wrong file learns which file
// it was.
func checkWasmHeader(head []byte) error {
	if len(head) == 0 {
		return fmt.Errorf("%w: no bytes were sent", ErrEmpty)
	}
	if len(head) < wasmHeaderLen {
		if bytes.HasPrefix(wasmMagic, head) || bytes.HasPrefix(head, wasmMagic) {
			return fmt.Errorf("%w: only %d bytes, a WebAssembly binary has an 8-byte header at least", ErrNotWasm, len(head))
		}
		return fmt.Errorf("%w: only %d bytes, looks like %s", ErrNotWasm, len(head), describe(head))
	}
	if !bytes.Equal(head[:4], wasmMagic) {
		return fmt.Errorf("%w: it does not start with \\0asm; looks like %s", ErrNotWasm, describe(head))
	}
	if v := binary.LittleEndian.Uint32(head[4:8]); v != 1 {
		return fmt.Errorf("%w: WebAssembly binary format version %d, only version 1 is supported", ErrNotWasm, v)
	}
	return nil
}

// describe names the kind of file that head starts, for error messages. It
// never quotes the bytes.
func describe(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "gzip-compressed data"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		return "an ELF executable"
	case bytes.HasPrefix(head, []byte("MZ")):
		return "a Windows executable"
	case bytes.HasPrefix(head, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.HasPrefix(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "a Mach-O executable"
	case bytes.HasPrefix(head, []byte("#!")):
		return "a script"
	case bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("(mod")):
		return "WebAssembly text format (.wat); compile it to a binary first, e.g. with wat2wasm"
	}
	if ct := http.DetectContentType(head); ct != "application/octet-stream" {
		if utf8.Valid(head) {
			return fmt.Sprintf("text (%s)", ct)
		}
		return ct
	}
	// Never the bytes themselves: the file may not be the caller's to
	// read (an import runs with more rights than whoever made the folder).
	return "binary data"
}
