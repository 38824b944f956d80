// Package testutil holds the helpers GPMD's tests share, once: WebAssembly
// fixtures, polling with a bound, fault injection on files, and resident
// memory of a process. It is internal and imported only by _test files.
package testutil

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TinyWasm is the smallest valid module (the contract's test vector).
var TinyWasm = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// TinyDigest is TinyWasm's digest.
const TinyDigest = "sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"

// Wasm returns a structurally valid WebAssembly module of exactly size bytes
// (or the smallest that can hold tag, if size is below that): the header and
// one custom section named tag whose payload is filler derived from tag. Equal
// arguments give equal bytes; different tags give different bytes.
func Wasm(tag string, size int) []byte {
	if tag == "" {
		tag = "x"
	}
	head := WasmHead(tag, size)
	payload := max(size-len(head), 0)
	out := make([]byte, 0, len(head)+payload)
	out = append(out, head...)
	x := uint64(14695981039346656037)
	for i := 0; i < len(tag); i++ {
		x = (x ^ uint64(tag[i])) * 1099511628211
	}
	for i := 0; i < payload; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		out = append(out, byte(x))
	}
	return out
}

// WasmHead is the start of Wasm(tag, size) before the custom section's
// payload: the header and a custom section that claims the rest of size
// bytes. Followed by any size-len(head) bytes it is a structurally valid
// module; a test that streams a large module writes it, then filler.
func WasmHead(tag string, size int) []byte {
	if tag == "" {
		tag = "x"
	}
	nameLen := binary.AppendUvarint(nil, uint64(len(tag)))
	// header + section id + 5-byte padded LEB128 section size + name
	fixed := len(TinyWasm) + 1 + 5 + len(nameLen) + len(tag)
	payload := max(size-fixed, 0)
	out := make([]byte, 0, fixed)
	out = append(out, TinyWasm...)
	out = append(out, 0x00) // custom section
	out = appendLEB128Padded(out, uint32(len(nameLen)+len(tag)+payload))
	out = append(out, nameLen...)
	return append(out, tag...)
}

// appendLEB128Padded appends v as unsigned LEB128 in exactly 5 bytes (the
// binary format allows padding), so the section's size does not change the
// length of its header.
func appendLEB128Padded(b []byte, v uint32) []byte {
	return append(b, byte(v&0x7f|0x80), byte(v>>7&0x7f|0x80), byte(v>>14&0x7f|0x80),
		byte(v>>21&0x7f|0x80), byte(v>>28&0x0f))
}

// WaitFor polls cond every 2 ms until it holds, failing the test with what
// after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Eventually polls cond like WaitFor and reports whether it came to hold.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// FlipByte inverts the byte at offset at of the file at path, in place (the
// size stays), making the file writable first: a blob read-only on disk is
// what it usually is.
func FlipByte(t testing.TB, path string, at int64) {
	t.Helper()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := []byte{0}
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
}

// RSS is the resident memory in bytes of process pid (0: this process),
// from /proc/PID/status.
func RSS(t testing.TB, pid int) int64 {
	t.Helper()
	who := "self"
	if pid != 0 {
		who = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + who + "/status")
	if err != nil {
		t.Fatalf("reading resident memory: %v", err)
	}
	kb, err := parseVmRSS(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return kb << 10
}

func parseVmRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc status")
}
