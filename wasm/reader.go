package wasm

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// errShort means the bytes at hand end inside the entry being decoded: more
// input is needed (or, when the entry is limited by its section's end, the
// entry overruns the section).
var errShort = errors.New("short")

// reader decodes one entry from a slice. The first failure sticks: later
// calls return zero values, so a decoder reads a whole entry and checks err
// once. need is how many bytes (from the slice's start) would let the read
// that failed for shortness go on.
type reader struct {
	b    []byte
	i    int
	err  error
	need int
	base int64 // file offset of b[0], for error messages
	p    *Parser
}

func (r *reader) short(n int) {
	if r.err == nil {
		r.err = errShort
		r.need = n
	}
}

// fail records a format error at the reader's current position.
func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = r.p.errorf(r.base+int64(r.i), format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.i >= len(r.b) {
		r.short(r.i + 1)
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b)-r.i {
		r.short(r.i + n)
		return nil
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s
}

// uleb reads an unsigned LEB128 of at most bits bits: at most
// ceil(bits/7) bytes, and the unused bits of the last byte zero.
func (r *reader) uleb(bits uint) uint64 {
	if r.err != nil {
		return 0
	}
	start := r.i
	maxBytes := int((bits + 6) / 7)
	var v uint64
	for k := 0; ; k++ {
		if r.i >= len(r.b) {
			r.short(r.i + 1)
			return 0
		}
		c := r.b[r.i]
		r.i++
		shift := uint(7 * k)
		if k == maxBytes-1 {
			// the last byte allowed: no continuation, and only the bits
			// that still fit.
			if c&0x80 != 0 {
				r.i = start
				r.fail("integer longer than %d bytes (LEB128 for %d bits)", maxBytes, bits)
				return 0
			}
			if used := bits - shift; used < 7 && c>>used != 0 {
				r.i = start
				r.fail("integer does not fit in %d bits (LEB128 with unused bits set)", bits)
				return 0
			}
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
}

func (r *reader) u32() uint32 { return uint32(r.uleb(32)) }

// sleb reads a signed LEB128 of at most bits bits; the unused bits of the
// last byte must be a sign extension.
func (r *reader) sleb(bits uint) int64 {
	if r.err != nil {
		return 0
	}
	start := r.i
	maxBytes := int((bits + 6) / 7)
	var v int64
	for k := 0; ; k++ {
		if r.i >= len(r.b) {
			r.short(r.i + 1)
			return 0
		}
		c := r.b[r.i]
		r.i++
		shift := uint(7 * k)
		v |= int64(c&0x7f) << shift
		if k == maxBytes-1 {
			if c&0x80 != 0 {
				r.i = start
				r.fail("integer longer than %d bytes (signed LEB128 for %d bits)", maxBytes, bits)
				return 0
			}
			// the bits above the value's width must copy its sign bit.
			if used := bits - shift; used < 7 {
				want := byte(0)
				if c>>(used-1)&1 == 1 {
					want = 0x7f >> used
				}
				if c>>used != want {
					r.i = start
					r.fail("integer does not fit in %d bits (signed LEB128 with bad unused bits)", bits)
					return 0
				}
			}
			if c&0x40 != 0 && shift+7 < 64 {
				v |= -1 << (shift + 7)
			}
			return v
		}
		if c&0x80 == 0 {
			if c&0x40 != 0 && shift+7 < 64 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
}

// count reads a vector's length and checks it against the bytes left in
// the entry's limit, each element taking at least minSize bytes: a claimed
// count never makes anyone allocate more than the input holds.
func (r *reader) count(what what, minSize int, limit int64) uint32 {
	at := r.i
	n := r.u32()
	if r.err != nil {
		return 0
	}
	if remain := limit - int64(r.i); int64(n)*int64(minSize) > remain {
		r.i = at
		r.fail("%s count %d needs at least %d bytes but only %d remain in the section", what, n, int64(n)*int64(minSize), remain)
		return 0
	}
	return n
}

// name reads a length-prefixed UTF-8 name. The bytes are copied: the
// slice belongs to the caller of Write.
func (r *reader) name(what what) string {
	at := r.i
	n := r.u32()
	if r.err != nil {
		return ""
	}
	b := r.bytes(int(n))
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.i = at
		r.fail("%s is not valid UTF-8", what)
		return ""
	}
	return string(b)
}

// what names the thing being read, for error messages only: formatting it
// costs nothing until an error needs it (a module has thousands of
// segments and names).
type what struct {
	format string // may hold one %d, for index
	index  uint32
}

func (w what) String() string {
	if strings.Contains(w.format, "%d") {
		return fmt.Sprintf(w.format, w.index)
	}
	return w.format
}
