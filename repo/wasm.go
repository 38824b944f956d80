package repo

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/wasm"
)

// wasmMagic opens every WebAssembly binary: "\0asm" then the binary format
// version as a little-endian uint32: 1 for a core module, or the
// component model's version 0x0d and layer 1 (0d 00 01 00).
var wasmMagic = []byte{0x00, 0x61, 0x73, 0x6d}

const (
	wasmHeaderLen    = 8
	coreVersion      = 1
	componentVersion = 0x0001000d
)

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
		return fmt.Errorf("%w: no bytes were sent", errdefs.ErrEmpty)
	}
	if len(head) < wasmHeaderLen {
		if bytes.HasPrefix(wasmMagic, head) || bytes.HasPrefix(head, wasmMagic) {
			return fmt.Errorf("%w: only %d bytes, a WebAssembly binary has an 8-byte header at least", errdefs.ErrNotWasm, len(head))
		}
		return fmt.Errorf("%w: only %d bytes, looks like %s", errdefs.ErrNotWasm, len(head), describe(head))
	}
	if !bytes.Equal(head[:4], wasmMagic) {
		return fmt.Errorf("%w: it does not start with \\0asm; looks like %s", errdefs.ErrNotWasm, describe(head))
	}
	if v := binary.LittleEndian.Uint32(head[4:8]); v != coreVersion && v != componentVersion {
		return fmt.Errorf("%w: WebAssembly binary format version %d, only version 1 (and components, 0d 00 01 00) is supported", errdefs.ErrNotWasm, v)
	}
	return nil
}

// parsingReader feeds every byte read through it to a structural parser,
// in the same pass as the blob writer's hash: nothing is read twice and
// nothing of the module is buffered. The parse runs in Read, on each
// chunk just read, while it is in the CPU cache: that costs about 1 ms
// per 16 MiB of compiled code, some 3% of the upload. (A parse goroutine
// fed through a pipe cost as much in hand-offs, one per chunk, each
// waiting for the other goroutine to be scheduled, and more on a busy
// machine.) At the end of r it reports the parser's verdict in place of
// io.EOF, so a binary the parser refuses fails the read before the blob
// is committed; a refusal mid-stream fails the read at once. info is the
// record once Read has returned io.EOF.
type parsingReader struct {
	r    io.Reader
	p    *wasm.Parser
	info wasm.Info
	err  error // what Read returns from now on, once set
}

func newParsingReader(src io.Reader) *parsingReader {
	return &parsingReader{r: src, p: wasm.NewParser()}
}

func (x *parsingReader) Read(b []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n, err := x.r.Read(b)
	if n > 0 {
		if _, perr := x.p.Write(b[:n]); perr != nil {
			x.err = perr
			return 0, perr
		}
	}
	switch {
	case err == io.EOF:
		var verdict error
		x.info, verdict = x.p.Finish()
		x.err = cmp.Or(verdict, io.EOF)
		return n, x.err
	case err != nil:
		x.err = err
	}
	return n, err
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
