package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWasmSizeAndStructure(t *testing.T) {
	for _, size := range []int{0, 8, 20, 21, 100, 1 << 20} {
		b := Wasm("tag", size)
		if size >= 21 && len(b) != size {
			t.Errorf("Wasm(tag, %d) has %d bytes", size, len(b))
		}
		if !bytes.HasPrefix(b, TinyWasm) || b[8] != 0 {
			t.Fatalf("Wasm(tag, %d) does not start with the header and a custom section", size)
		}
		secSize := uint32(b[9]&0x7f) | uint32(b[10]&0x7f)<<7 | uint32(b[11]&0x7f)<<14 | uint32(b[12]&0x7f)<<21 | uint32(b[13])<<28
		if int(secSize) != len(b)-14 {
			t.Errorf("Wasm(tag, %d): section size %d, %d bytes follow", size, secSize, len(b)-14)
		}
	}
	if bytes.Equal(Wasm("a", 64), Wasm("b", 64)) {
		t.Error("different tags gave equal bytes")
	}
	if !bytes.Equal(Wasm("a", 64), Wasm("a", 64)) {
		t.Error("equal arguments gave different bytes")
	}
}

func TestFlipByteAndRSS(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte{1, 2, 3}, 0o444)
	FlipByte(t, p, 1)
	if got, _ := os.ReadFile(p); !bytes.Equal(got, []byte{1, 0xfd, 3}) {
		t.Fatalf("after FlipByte: %v", got)
	}
	if RSS(t, 0) <= 0 || RSS(t, os.Getpid()) <= 0 {
		t.Fatal("no resident memory")
	}
	if Eventually(10*time.Millisecond, func() bool { return false }) {
		t.Fatal("Eventually of a false condition held")
	}
}
