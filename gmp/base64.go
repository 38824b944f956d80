package gmp

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
)

// The base64 of MODULE replies. encoding/base64 encodes 3 bytes at a time,
// one output byte per table lookup and store: it was half of the CPU of a
// MODULE reply (BenchmarkModuleFetch16MiB's profile), more than the SHA-256
// check. appendBase64 writes the same bytes (standard alphabet, padded: GMP.md,
// Modules) about 2.5 times as fast (BenchmarkBase64): it reads 6 input bytes
// with one 64-bit load, looks up 12 bits at a time in a table of character
// pairs, and stores 8 output bytes at once. The last few bytes, padding
// included, are left to encoding/base64, which fuzzing checks it against
// (FuzzBase64).

const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Pairs maps 12 bits to the two base64 characters that encode them,
// the first in the low byte (8 KiB: it stays in the L1 cache).
var base64Pairs = func() (t [1 << 12]uint16) {
	for v := range t {
		t[v] = uint16(base64Alphabet[v>>6]) | uint16(base64Alphabet[v&63])<<8
	}
	return t
}()

// appendBase64 appends the standard, padded base64 of src to dst, exactly
// as base64.StdEncoding.AppendEncode does.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	t := &base64Pairs
	i, j := 0, 0
	// 24 bytes in, 32 out per round; the fourth load reads 2 bytes past
	// the 24, hence the 26.
	for ; len(src)-i >= 26; i, j = i+24, j+32 {
		s, o := src[i:i+26], out[j:j+32]
		a := binary.BigEndian.Uint64(s[0:])
		b := binary.BigEndian.Uint64(s[6:])
		c := binary.BigEndian.Uint64(s[12:])
		d := binary.BigEndian.Uint64(s[18:])
		binary.LittleEndian.PutUint64(o[0:], encode6(t, a))
		binary.LittleEndian.PutUint64(o[8:], encode6(t, b))
		binary.LittleEndian.PutUint64(o[16:], encode6(t, c))
		binary.LittleEndian.PutUint64(o[24:], encode6(t, d))
	}
	// i is a multiple of 3: the rest encodes on its own.
	base64.StdEncoding.Encode(out[j:], src[i:])
	return dst[:len(dst)+n]
}

// encode6 returns the 8 characters of the 6 bytes in the top 48 bits of x,
// the first in the low byte.
func encode6(t *[1 << 12]uint16, x uint64) uint64 {
	return uint64(t[x>>52]) | uint64(t[(x>>40)&0xfff])<<16 |
		uint64(t[(x>>28)&0xfff])<<32 | uint64(t[(x>>16)&0xfff])<<48
}
