package wasm

import (
	"encoding/binary"
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
)

// infoVersion is the first byte of Info's binary encoding. Change the
// encoding, bump it, and keep decoding the old one (the index stores it).
const infoVersion = 1

// MarshalBinary encodes info compactly for the index: a version byte, then
// every field in declaration order, strings and lists prefixed by their
// length as uvarints.
func (info Info) MarshalBinary() ([]byte, error) {
	b := []byte{infoVersion}
	b = appendString(b, string(info.Kind))
	b = binary.AppendUvarint(b, uint64(len(info.Imports)))
	for _, im := range info.Imports {
		b = appendString(b, im.Module)
		b = appendString(b, im.Name)
		b = appendExtern(b, im.Kind, im.Params, im.Results, im.Type, im.Mutable, im.Limits)
	}
	b = binary.AppendUvarint(b, uint64(len(info.Exports)))
	for _, ex := range info.Exports {
		b = appendString(b, ex.Name)
		b = binary.AppendUvarint(b, uint64(ex.Index))
		b = appendExtern(b, ex.Kind, ex.Params, ex.Results, ex.Type, ex.Mutable, ex.Limits)
	}
	b = binary.AppendUvarint(b, uint64(len(info.Memories)))
	for _, m := range info.Memories {
		b = appendLimits(b, m)
	}
	b = binary.AppendUvarint(b, uint64(len(info.Tables)))
	for _, t := range info.Tables {
		b = appendString(b, t.Type)
		b = appendLimits(b, t.Limits)
	}
	b = binary.AppendUvarint(b, uint64(info.Functions))
	if info.Start != nil {
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(*info.Start))
	} else {
		b = append(b, 0)
	}
	b = appendStrings(b, info.CustomSections)
	b = appendStrings(b, info.Features)
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, 0)
	}
	// 1+len: a nil list and an empty one stay apart (a func with no
	// parameters has an empty, non-nil list).
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendExtern(b []byte, kind string, params, results []string, typ string, mut bool, lim *Limits) []byte {
	b = appendString(b, kind)
	b = appendStrings(b, params)
	b = appendStrings(b, results)
	b = appendString(b, typ)
	b = appendBool(b, mut)
	if lim == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	return appendLimits(b, *lim)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendLimits(b []byte, l Limits) []byte {
	flags := byte(0)
	if l.Max != nil {
		flags |= 1
	}
	if l.Shared {
		flags |= 2
	}
	if l.Is64 {
		flags |= 4
	}
	if l.Imported {
		flags |= 8
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, l.Min)
	if l.Max != nil {
		b = binary.AppendUvarint(b, *l.Max)
	}
	return b
}

// UnmarshalBinary decodes what MarshalBinary encoded. Input that is not
// such an encoding is an error wrapping errdefs.ErrCorrupt; no length in it
// makes it allocate more than the input's size.
func (info *Info) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	v := d.byte()
	if d.err == nil && v != infoVersion {
		return fmt.Errorf("wasm info encoding version %d, want %d: %w", v, infoVersion, errdefs.ErrCorrupt)
	}
	var out Info
	out.Kind = Kind(d.string())
	n := d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		var im Import
		im.Module = d.string()
		im.Name = d.string()
		im.Kind, im.Params, im.Results, im.Type, im.Mutable, im.Limits = d.extern()
		out.Imports = append(out.Imports, im)
	}
	n = d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		var ex Export
		ex.Name = d.string()
		ex.Index = d.u32()
		ex.Kind, ex.Params, ex.Results, ex.Type, ex.Mutable, ex.Limits = d.extern()
		out.Exports = append(out.Exports, ex)
	}
	n = d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		out.Memories = append(out.Memories, d.limits())
	}
	n = d.count()
	for i := uint64(0); i < n && d.err == nil; i++ {
		t := Table{Type: d.string()}
		t.Limits = d.limits()
		out.Tables = append(out.Tables, t)
	}
	out.Functions = d.u32()
	if d.bool() {
		s := d.u32()
		out.Start = &s
	}
	out.CustomSections = d.strings()
	out.Features = d.strings()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes after the end", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("wasm info encoding: %v: %w", d.err, errdefs.ErrCorrupt)
	}
	if out.Imports == nil {
		out.Imports = []Import{}
	}
	if out.Exports == nil {
		out.Exports = []Export{}
	}
	*info = out
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = fmt.Errorf("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch c := d.byte(); c {
	case 0:
		return false
	case 1:
		return true
	default:
		if d.err == nil {
			d.err = fmt.Errorf("boolean byte %d", c)
		}
		return false
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = fmt.Errorf("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 && d.err == nil {
		d.err = fmt.Errorf("%d does not fit in 32 bits", v)
	}
	return uint32(v)
}

// count reads a list's length; every element takes at least a byte, so a
// length above the bytes left is corrupt.
func (d *decoder) count() uint64 {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.err = fmt.Errorf("a list of %d entries in %d bytes", n, len(d.b))
		return 0
	}
	return n
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	if d.err != nil || n == 0 {
		return nil
	}
	out := []string{}
	for i := uint64(1); i < n && d.err == nil; i++ {
		out = append(out, d.string())
	}
	return out
}

func (d *decoder) extern() (kind string, params, results []string, typ string, mut bool, lim *Limits) {
	kind = d.string()
	params = d.strings()
	results = d.strings()
	typ = d.string()
	mut = d.bool()
	if d.bool() {
		l := d.limits()
		lim = &l
	}
	return
}

func (d *decoder) limits() Limits {
	flags := d.byte()
	if d.err == nil && flags > 15 {
		d.err = fmt.Errorf("limits flags %d", flags)
	}
	l := Limits{Min: d.uvarint(), Shared: flags&2 != 0, Is64: flags&4 != 0, Imported: flags&8 != 0}
	if flags&1 != 0 {
		m := d.uvarint()
		l.Max = &m
	}
	return l
}
