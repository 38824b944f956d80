package wasm

import (
	"fmt"
	"io"
	"slices"

	"github.com/ghost-network/gpmd/errdefs"
)

// ErrInvalidModule is the class of every structural error the parser
// reports; it wraps errdefs.ErrInvalid, so the HTTP, CLI and GMP surfaces map
// it as they map any invalid input (and may single it out as
// invalid_module). It is made without fmt, whose formatting would run at
// the initialisation of every process that links this package.
var ErrInvalidModule = errdefs.Narrow("invalid module: "+errdefs.ErrInvalid.Error(), errdefs.ErrInvalid)

// FormatError is a structural error: one line that says what is wrong and
// at which byte of the file.
type FormatError struct {
	Offset int64  // byte of the file where the problem is
	Msg    string // the whole message, offset and section included
}

func (e *FormatError) Error() string { return e.Msg }
func (e *FormatError) Unwrap() error { return ErrInvalidModule }

// MaxEntry bounds what the parser buffers: one section header, one import,
// one export, one type, one segment header, one name. An entry longer than
// this is refused, so a module can never make the parser hold more.
const MaxEntry = 1 << 20

// Section ids (core specification, 5.5.2, plus tag from exception
// handling).
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "datacount", "tag"}

// sectionRank is each non-custom section's place in the order the
// specification requires: tag sits between memory and global, data count
// between element and code.
var sectionRank = [...]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13,
}

type state uint8

const (
	stHeader    state = iota // the 8-byte preamble
	stSection                // between sections: an id and a size
	stCount                  // a vector section's count
	stEntry                  // one entry of a vector section
	stElemItem               // one function index or expression of an element segment
	stBodySize               // a function body's size (then its bytes are skipped)
	stCustom                 // a custom section's name (then its bytes are skipped)
	stSkip                   // bytes skipped up to skipEnd: a body, a data payload, a custom payload
	stComponent              // everything after a component's header, not parsed
	stExtra                  // the last entry read, the section not yet ended
	stDone                   // after an error
)

type funcType struct{ params, results []string }

type globalType struct {
	typ string
	mut bool
}

// Parser checks the structure of a WebAssembly binary fed to it in chunks
// of any size, in one pass and with bounded memory: it never reads twice and
// never holds more than one entry (MaxEntry) of the input. Function bodies
// and data payloads are skipped by size, not decoded. Use it as the io.Writer
// beside the hash of an upload, then call Finish. A Parser is for one binary
// and one goroutine.
type Parser struct {
	st   state
	off  int64 // file offset of the next byte not yet consumed
	pend []byte
	need int // bytes pend must hold before decoding is worth retrying
	err  error

	// the section being parsed
	sec      byte
	secStart int64 // offset of the section's id byte
	secEnd   int64 // offset just past it
	lastRank int
	seen     [14]bool
	left     uint32 // entries still to read
	index    uint32 // index of the next entry within its section
	skipEnd  int64

	// an element segment's items
	elemExprs bool
	elemLeft  uint32

	types       []funcType
	funcs       []uint32 // type index of each function, imported first
	importFuncs uint32
	globals     []globalType
	tags        []uint32 // type index of each tag
	exportNames map[string]struct{}
	dataCount   *uint32
	codeCount   uint32
	features    []string // a set: few, so a slice beats a map
	// the payload of a target_features custom section, while it is read
	targetFeatures []byte

	info Info
}

// NewParser returns a parser waiting for the first byte of a binary.
func NewParser() *Parser {
	return &Parser{exportNames: map[string]struct{}{}}
}

func (p *Parser) errorf(at int64, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if p.st != stHeader && p.st != stSection && p.st != stComponent {
		msg = fmt.Sprintf("section %d (%s) at byte %d: %s (byte %d)", p.sec, sectionNames[p.sec], p.secStart, msg, at)
	} else {
		msg = fmt.Sprintf("%s (byte %d)", msg, at)
	}
	return &FormatError{Offset: at, Msg: msg}
}

func (p *Parser) secName() string {
	return fmt.Sprintf("section %d (%s) at byte %d", p.sec, sectionNames[p.sec], p.secStart)
}

// Write feeds the next bytes of the binary. It returns the first structural
// error, and that error again on every later call; it never keeps p.
func (p *Parser) Write(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	pos := 0
	tail := 0 // how many of pend's last bytes were taken from b
	for pos < len(b) {
		if len(p.pend) == 0 {
			k, err := p.step(b[pos:])
			if err != nil {
				return p.fail(err)
			}
			pos += k
			if pos < len(b) { // an entry cut by the chunk's end
				p.pend = append(p.pend, b[pos:]...)
				pos = len(b)
			}
			continue
		}
		// Complete the entry held in pend from b.
		take := min(p.need-len(p.pend), len(b)-pos)
		p.pend = append(p.pend, b[pos:pos+take]...)
		pos += take
		tail += take
		if len(p.pend) < p.need {
			continue
		}
		k, err := p.step(p.pend)
		if err != nil {
			return p.fail(err)
		}
		if left := len(p.pend) - k; k > 0 && left <= tail {
			// What step left is b's own bytes: give them back, so the
			// rest of b goes the copy-free way.
			pos -= left
			p.pend = p.pend[:0]
			tail = 0
			continue
		}
		p.pend = p.pend[:copy(p.pend, p.pend[k:])]
		tail = min(tail, len(p.pend))
	}
	if len(p.pend) > MaxEntry {
		return p.fail(p.errorf(p.off, "an entry longer than %d bytes", MaxEntry))
	}
	return len(b), nil
}

func (p *Parser) fail(err error) (int, error) {
	p.err = err
	p.st = stDone
	p.pend = nil
	return 0, err
}

// step consumes as many whole entries (and skipped bytes) from b as it can
// and returns how many bytes that was; b[0] is the byte at p.off.
func (p *Parser) step(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		switch p.st {
		case stSkip:
			k := int(min(int64(len(b)-n), p.skipEnd-p.off))
			if p.targetFeatures != nil && len(p.targetFeatures)+k <= maxTargetFeatures {
				p.targetFeatures = append(p.targetFeatures, b[n:n+k]...)
			}
			n += k
			p.off += int64(k)
			if p.off == p.skipEnd {
				if err := p.afterSkip(); err != nil {
					return n, err
				}
			}
			continue
		case stComponent:
			p.off += int64(len(b) - n)
			return len(b), nil
		case stBodySize:
			if k := p.bodies(b[n:]); k > 0 {
				n += k
				continue
			}
		case stEntry:
			if p.sec == secFunction {
				if k := p.funcDecls(b[n:]); k > 0 {
					n += k
					continue
				}
			}
			if p.sec == secData {
				if k := p.dataSegments(b[n:]); k > 0 {
					n += k
					continue
				}
			}
		case stElemItem:
			if !p.elemExprs {
				if k := p.elemFuncs(b[n:]); k > 0 {
					n += k
					continue
				}
			}
		case stExtra:
			return n, p.errorf(p.off, "%d bytes after the last entry, before the section's end at byte %d", p.secEnd-p.off, p.secEnd)
		}
		rest := b[n:]
		limited := false // whether rest is cut at the section's end
		if p.st != stHeader && p.st != stSection {
			if remain := p.secEnd - p.off; int64(len(rest)) >= remain {
				rest = rest[:remain]
				limited = true
			}
		}
		r := reader{b: rest, base: p.off, p: p}
		prev := p.st
		if err := p.entry(&r); err != nil {
			return n, err
		}
		if r.err == errShort {
			if limited || int64(r.need) > p.secEnd-p.off && p.st != stHeader && p.st != stSection {
				return n, p.overrun()
			}
			if r.need > MaxEntry {
				return n, p.errorf(p.off, "an entry of %d bytes, longer than the limit of %d", r.need, MaxEntry)
			}
			// Wait for what the entry needs, and when that is not known (an
			// expression read op by op) for twice what is at hand: an entry
			// is then decoded O(log size) times, not once per chunk.
			p.need = max(r.need, min(2*len(rest), MaxEntry), 16)
			return n, nil
		}
		if r.err != nil {
			return n, r.err
		}
		n += r.i
		p.off += int64(r.i)
		p.need = 0
		if err := p.settle(prev); err != nil {
			return n, err
		}
	}
	return n, nil
}

// bodies is the code section's fast path: it skips every function body
// that lies whole in b, with no state change per body, and returns the
// bytes it consumed. Anything unusual (a body cut by b's end, a size that
// is too large, malformed or zero) it leaves to the general path, which
// reports it.
func (p *Parser) bodies(b []byte) int {
	n := 0
	for p.left > 0 {
		var size uint64
		k := 0
		for ; k < 5 && n+k < len(b); k++ {
			c := b[n+k]
			size |= uint64(c&0x7f) << (7 * k)
			if c&0x80 == 0 {
				break
			}
		}
		if k == 5 || n+k >= len(b) || k == 4 && b[n+k] > 0x0f {
			break // cut short, too long, or unused bits: the general path says which
		}
		k++
		end := n + k + int(size)
		if size == 0 || int64(k)+int64(size) > p.secEnd-p.off || end > len(b) {
			break
		}
		p.off += int64(end - n)
		n = end
		p.index++
		p.left--
	}
	if n > 0 && p.left == 0 {
		p.endOfEntries()
	}
	return n
}

// fastU32 decodes an unsigned LEB128 u32 at b[i:] when it is whole and
// well-formed, returning its length (0 otherwise: the general path decides
// what is wrong).
func fastU32(b []byte, i int) (uint32, int) {
	var v uint32
	for k := 0; k < 5 && i+k < len(b); k++ {
		c := b[i+k]
		v |= uint32(c&0x7f) << (7 * k)
		if c&0x80 == 0 {
			if k == 4 && c > 0x0f {
				return 0, 0
			}
			return v, k + 1
		}
	}
	return 0, 0
}

// dataSegments is the data section's fast path: it skips every active
// segment of memory 0 with an i32.const offset (what toolchains emit; Go
// emits tens of thousands) that lies whole in b, and returns the bytes
// consumed. Anything else goes to the general path.
func (p *Parser) dataSegments(b []byte) int {
	n := 0
	limit := min(int64(len(b)), p.secEnd-p.off)
	for p.left > 0 {
		i := n
		if int64(i+2) > limit || b[i] != 0 || b[i+1] != 0x41 || len(p.info.Memories) == 0 {
			break
		}
		i += 2
		// the offset: a signed LEB128 of at most 5 bytes, checked the
		// simple way: only shapes that are plainly fine pass
		k := 0
		for ; k < 5 && int64(i+k) < limit && b[i+k]&0x80 != 0; k++ {
		}
		if k >= 4 || int64(i+k+1) >= limit { // 5-byte encodings go the careful way
			break
		}
		i += k + 1
		if b[i] != 0x0b {
			break
		}
		i++
		size, sk := fastU32(b[:limit], i)
		if sk == 0 || int64(i+sk)+int64(size) > limit {
			break
		}
		n = i + sk + int(size)
		p.index++
		p.left--
	}
	if n > 0 {
		p.off += int64(n)
		if p.left == 0 {
			p.endOfEntries()
		}
	}
	return n
}

// funcDecls is the function section's fast path: the type index of each
// function, as many as lie whole in b.
func (p *Parser) funcDecls(b []byte) int {
	n := 0
	limit := int(min(int64(len(b)), p.secEnd-p.off))
	if p.index == 0 {
		// the count is checked against the section's size: at most one
		// element per byte left
		p.funcs = slices.Grow(p.funcs, int(p.left))
	}
	for p.left > 0 {
		t, k := fastU32(b[:limit], n)
		if k == 0 || t >= uint32(len(p.types)) {
			break
		}
		p.funcs = append(p.funcs, t)
		n += k
		p.index++
		p.left--
	}
	if n > 0 {
		p.off += int64(n)
		if p.left == 0 {
			p.endOfEntries()
		}
	}
	return n
}

// elemFuncs is the fast path of an element segment's function indices.
func (p *Parser) elemFuncs(b []byte) int {
	n := 0
	limit := int(min(int64(len(b)), p.secEnd-p.off))
	for p.elemLeft > 0 {
		f, k := fastU32(b[:limit], n)
		if k == 0 || f >= uint32(len(p.funcs)) {
			break
		}
		n += k
		p.elemLeft--
	}
	if n > 0 {
		p.off += int64(n)
		if p.elemLeft == 0 {
			p.st = stEntry
			p.index++
			p.left--
			p.endOfEntries()
		}
	}
	return n
}

// overrun reports an entry of the current section that does not end
// before the section does.
func (p *Parser) overrun() error {
	switch p.st {
	case stCount:
		return p.errorf(p.off, "the section ends inside its entry count")
	case stBodySize:
		return p.errorf(p.off, "function %d's body size runs past the end of the section", p.importFuncs+p.index)
	case stCustom:
		return p.errorf(p.off, "the custom section's name runs past the end of the section")
	case stElemItem:
		return p.errorf(p.off, "element segment %d runs past the end of the section", p.index)
	}
	return p.errorf(p.off, "%s %d runs past the end of the section", entryName(p.sec), p.index)
}

func entryName(sec byte) string {
	switch sec {
	case secType:
		return "type"
	case secImport:
		return "import"
	case secFunction:
		return "function declaration"
	case secTable:
		return "table"
	case secMemory:
		return "memory"
	case secGlobal:
		return "global"
	case secExport:
		return "export"
	case secStart:
		return "start function"
	case secElement:
		return "element segment"
	case secData:
		return "data segment"
	case secDataCount:
		return "data count"
	case secTag:
		return "tag"
	case secCode:
		return "function body"
	}
	return "entry"
}

// settle moves to the next state once an entry read in state prev is
// done: the next entry, or the end of the section.
func (p *Parser) settle(prev state) error {
	if p.st == stSkip {
		if p.off == p.skipEnd { // an empty payload: nothing to skip
			return p.afterSkip()
		}
		return nil
	}
	switch prev {
	case stCount:
		p.st = stEntry
		if p.sec == secCode {
			p.st = stBodySize
		}
	case stEntry:
		if p.sec == secElement && p.elemLeft > 0 {
			p.st = stElemItem
			return nil
		}
		p.index++
		p.left--
	case stElemItem:
		if p.elemLeft > 0 {
			return nil
		}
		p.st = stEntry
		p.index++
		p.left--
	default:
		return nil
	}
	return p.endOfEntries()
}

// endOfEntries closes the section when its last entry has been read.
func (p *Parser) endOfEntries() error {
	if p.left > 0 {
		return nil
	}
	if p.off != p.secEnd {
		// an error, but which one depends on whether the file ends first
		p.st = stExtra
		return nil
	}
	p.st = stSection
	return nil
}

func (p *Parser) afterSkip() error {
	switch p.sec {
	case secCode:
		p.index++
		p.left--
		p.st = stBodySize
	case secData:
		p.index++
		p.left--
		p.st = stEntry
	default: // custom
		p.st = stSection
		if p.targetFeatures != nil {
			p.readTargetFeatures()
		}
		return nil
	}
	return p.endOfEntries()
}

// Finish reports whether the bytes written form a whole, well-formed
// binary, and what it holds. Write and Finish after Finish return an
// error.
func (p *Parser) Finish() (Info, error) {
	if p.err != nil {
		return Info{}, p.err
	}
	if len(p.pend) > 0 && p.st != stComponent {
		// what waited for more bytes than came
		k, err := p.step(p.pend)
		if err != nil {
			p.fail(err)
			return Info{}, err
		}
		p.pend = p.pend[k:]
	}
	p.err = fmt.Errorf("wasm: parser used after Finish: %w", errdefs.ErrInvalid)
	end := p.off + int64(len(p.pend))
	switch p.st {
	case stHeader:
		if end == 0 {
			return Info{}, &FormatError{Msg: "the file is empty: a WebAssembly binary begins with an 8-byte header"}
		}
		return Info{}, &FormatError{Offset: end, Msg: fmt.Sprintf("the file is %d bytes, shorter than the 8-byte WebAssembly header", end)}
	case stComponent:
		return Info{Kind: KindComponent, Imports: []Import{}, Exports: []Export{}}, nil
	case stSection:
		if len(p.pend) > 0 {
			return Info{}, &FormatError{Offset: p.off, Msg: fmt.Sprintf("the section header at byte %d is cut off by the end of the file", p.off)}
		}
	default:
		if p.secEnd <= end {
			// the section ends within the file, inside an entry
			return Info{}, p.overrun()
		}
		return Info{}, &FormatError{Offset: p.secStart, Msg: fmt.Sprintf("%s runs %d bytes past the end of the file", p.secName(), p.secEnd-end)}
	}
	nfuncs := uint32(len(p.funcs)) - p.importFuncs
	if !p.seen[secCode] && nfuncs > 0 {
		return Info{}, &FormatError{Offset: end, Msg: fmt.Sprintf("the function section declares %d functions but there is no code section", nfuncs)}
	}
	if p.dataCount != nil && *p.dataCount > 0 && !p.seen[secData] {
		return Info{}, &FormatError{Offset: end, Msg: fmt.Sprintf("the data count section declares %d data segments but there is no data section", *p.dataCount)}
	}
	info := p.info
	info.Kind = KindModule
	info.Functions = nfuncs
	if info.Imports == nil {
		info.Imports = []Import{}
	}
	if info.Exports == nil {
		info.Exports = []Export{}
	}
	if len(p.info.Memories) > 1 {
		p.feature(FeatureMultiMemory)
	}
	if len(p.info.Tables) > 1 {
		p.feature(FeatureReferenceTypes)
	}
	info.Features = slices.Sorted(slices.Values(p.features))
	return info, nil
}

// feature records that the module uses feature f.
func (p *Parser) feature(f string) {
	if !slices.Contains(p.features, f) {
		p.features = append(p.features, f)
	}
}

// Parse reads a whole binary from b; see Parser.
func Parse(b []byte) (Info, error) {
	p := NewParser()
	if _, err := p.Write(b); err != nil {
		return Info{}, err
	}
	return p.Finish()
}

// ParseReader reads a whole binary from r through a Parser, in chunks,
// holding no more of it than the Parser does. A read error is returned as
// it is (not a *FormatError).
func ParseReader(r io.Reader) (Info, error) {
	p := NewParser()
	if _, err := io.Copy(p, r); err != nil {
		return Info{}, err
	}
	return p.Finish()
}
