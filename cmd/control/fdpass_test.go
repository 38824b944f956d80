package control

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// open reports whether fd is an open descriptor.
func open(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// dupFD is a fresh descriptor of f that the test hands to PassedFiles.
func dupFD(t *testing.T, f *os.File) int {
	t.Helper()
	fd, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestPassedFiles: a connection keeps at most MaxPassedFiles descriptors
// (the others are closed as they come), a request takes one, Close closes
// what was not taken, and what comes after Close is closed at once.
func TestPassedFiles(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p PassedFiles
	a, b := dupFD(t, f), dupFD(t, f)
	p.Add([]int{a, b})
	if !open(a) || open(b) {
		t.Fatalf("after Add of 2: first open=%v second open=%v; want the first kept and the second closed", open(a), open(b))
	}
	got, ok := p.take()
	if !ok || got != a {
		t.Fatalf("take = %d, %v; want %d", got, ok, a)
	}
	if _, ok := p.take(); ok {
		t.Fatal("a second take found a descriptor")
	}
	unix.Close(got)

	kept := dupFD(t, f)
	p.Add([]int{kept})
	p.drop()
	if open(kept) {
		t.Fatal("drop left an untaken descriptor open")
	}

	c := dupFD(t, f)
	p.Add([]int{c})
	p.Close()
	if open(c) {
		t.Fatal("Close left an untaken descriptor open")
	}
	d := dupFD(t, f)
	p.Add([]int{d})
	if open(d) {
		t.Fatal("a descriptor that came after Close was kept")
	}
	p.Close() // idempotent
}
