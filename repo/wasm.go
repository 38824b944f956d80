package repo

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

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
	if v := binary.LittleEndian.Uint32(head[4:8]); v != coreVersion && v != componentVersion {
		return fmt.Errorf("%w: WebAssembly binary format version %d, only version 1 (and components, 0d 00 01 00) is supported", ErrNotWasm, v)
	}
	return nil
}

// parseBufSize is the parse goroutine's read buffer: at least the blob
// writer's chunk (256 KiB), so that one pipe write is taken in one read and
// the writer goes on hashing the next chunk while this one is parsed.
const parseBufSize = 256 << 10

// parseInline is how much of a module is parsed in the upload's own
// goroutine before the parse moves to one of its own: for a small module
// the parse costs less than handing chunks to another goroutine on a busy
// machine (1 MiB of compiled code parses in about 0.15 ms), and a large
// one gains from the overlap.
const parseInline = 1 << 20

// parsingReader feeds every byte read through it to a structural parser,
// in the same pass as the blob writer's hash: nothing is read twice and
// nothing of the module is buffered beyond one chunk. The first
// parseInline bytes are parsed as they are read; beyond that the parser
// runs in its own goroutine, fed through a pipe, so that parsing a chunk
// overlaps hashing and writing the next (the upload keeps its speed on two
// cores). At the end of r it reports the parser's verdict in place of
// io.EOF, so a binary the parser refuses fails the read before the blob is
// committed; a refusal mid-stream fails the read at once (inline) or the
// next one. Close must be called (it ends the goroutine); info is the
// record once Read has returned io.EOF.
type parsingReader struct {
	r      io.Reader
	repo   *Repo
	p      *wasm.Parser
	inline int64 // bytes parsed in Read so far

	// pw is nil while the parse runs inline; then the pipe to the parse
	// goroutine, which owns p from then on.
	pw   *io.PipeWriter
	done chan struct{} // closed when the parse goroutine has set info, verdict
	// info and verdict are written by the parse goroutine (or inline)
	// before done is closed, and read only after.
	info    wasm.Info
	verdict error
	err     error // what Read returns from now on, once set
}

// errUploadEnded ends the parse of an upload that stopped before its end.
var errUploadEnded = errors.New("upload ended before the end of the module")

func (r *Repo) newParsingReader(src io.Reader) *parsingReader {
	return &parsingReader{r: src, repo: r, p: wasm.NewParser()}
}

// goAsync moves the parse to its own goroutine.
func (x *parsingReader) goAsync() {
	pr, pw := io.Pipe()
	x.pw, x.done = pw, make(chan struct{})
	go func() {
		defer close(x.done)
		bp := x.repo.parseBufs.Get().(*[]byte)
		defer x.repo.parseBufs.Put(bp)
		_, err := io.CopyBuffer(struct{ io.Writer }{x.p}, pr, *bp)
		if err == nil {
			x.info, err = x.p.Finish()
		}
		x.verdict = err
		// Unblocks a Write in flight and fails the next ones.
		pr.CloseWithError(cmp.Or(err, errUploadEnded))
	}()
}

func (x *parsingReader) Read(b []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n, err := x.r.Read(b)
	if n > 0 {
		if x.pw == nil && x.inline+int64(n) > parseInline {
			x.goAsync()
		}
		if x.pw == nil {
			x.inline += int64(n)
			if _, perr := x.p.Write(b[:n]); perr != nil {
				x.err = perr
				return 0, perr
			}
		} else if _, werr := x.pw.Write(b[:n]); werr != nil {
			// Only the parser closes its end: it refused the bytes.
			<-x.done
			x.err = x.verdict
			return 0, x.err
		}
	}
	switch {
	case err == io.EOF:
		if x.pw == nil {
			x.info, x.verdict = x.p.Finish()
		} else {
			x.pw.Close()
			<-x.done
		}
		x.err = cmp.Or(x.verdict, io.EOF)
		return n, x.err
	case err != nil:
		x.err = err
		x.Close()
	}
	return n, err
}

// Close ends the parse goroutine, if there is one (an upload that failed
// before the end of its body), and waits for it. It may be called more
// than once.
func (x *parsingReader) Close() {
	if x.pw != nil {
		x.pw.CloseWithError(errUploadEnded)
		<-x.done
	}
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
