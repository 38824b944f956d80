package gmp

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
	"time"
)

// TestBase64MatchesStd: appendBase64 writes what encoding/base64 writes,
// for every length up to a few rounds past the fast loop's and for a whole
// module chunk, appending after what dst holds, with and without room.
func TestBase64MatchesStd(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	check := func(src, dst []byte) {
		t.Helper()
		want := base64.StdEncoding.AppendEncode(bytes.Clone(dst), src)
		if got := appendBase64(dst, src); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes after %q:\n got %q\nwant %q", len(src), dst, got, want)
		}
	}
	for n := 0; n <= 200; n++ {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rnd.Uint32())
		}
		check(src, nil)
		check(src, []byte(`{"binary":"`))
		check(src, make([]byte, 3, 3+base64.StdEncoding.EncodedLen(n)))
	}
	// Every 12-bit value in every position of a round.
	all := make([]byte, 0, 3<<12)
	for v := range 1 << 12 {
		all = append(all, byte(v>>4), byte(v<<4|v>>8), byte(v))
	}
	check(all, nil)
	check(all[1:], nil)
	chunk := make([]byte, moduleChunk)
	for i := range chunk {
		chunk[i] = byte(rnd.Uint32())
	}
	check(chunk, make([]byte, 0, moduleOutSize))
}

func FuzzBase64(f *testing.F) {
	f.Add([]byte{}, []byte("x"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"), []byte{})
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 40), []byte(`{"binary":"`))
	f.Fuzz(func(t *testing.T, src, dst []byte) {
		// The fuzzer may hand out src inside dst's spare capacity: an
		// append would write over its own input.
		src, dst = bytes.Clone(src), bytes.Clone(dst)
		want := base64.StdEncoding.AppendEncode(bytes.Clone(dst), src)
		if got := appendBase64(dst, src); !bytes.Equal(got, want) {
			t.Fatalf("%x:\n got %q\nwant %q", src, got, want)
		}
	})
}

// BenchmarkBase64: one module chunk encoded by appendBase64 and by
// encoding/base64, taking turns; ratio is appendBase64's speed over
// encoding/base64's.
func BenchmarkBase64(b *testing.B) {
	src := make([]byte, moduleChunk)
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(rnd.Uint32())
	}
	out := make([]byte, 0, moduleOutSize)
	b.SetBytes(int64(len(src)))
	var fast, std time.Duration
	for b.Loop() {
		t0 := time.Now()
		out = appendBase64(out[:0], src)
		t1 := time.Now()
		out = base64.StdEncoding.AppendEncode(out[:0], src)
		fast += t1.Sub(t0)
		std += time.Since(t1)
	}
	b.ReportMetric(float64(std)/float64(fast), "ratio")
}
