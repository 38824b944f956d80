package rotate

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestConcurrentWritesAcrossRotations: writers in parallel, many
// rotations, and every line is found whole, exactly once, in the files
// kept; no file passes MaxSize by more than one line.
func TestConcurrentWritesAcrossRotations(t *testing.T) {
	const (
		writers  = 8
		perW     = 2000
		maxSize  = 16 << 10
		lineSize = 64 // about: "w=7 i=1999 " + padding + "\n"
	)
	path := filepath.Join(t.TempDir(), "gpmd.log")
	// Keep enough files for every line: the test counts them all.
	keep := writers*perW*lineSize/maxSize + 10
	w, err := Open(path, Options{MaxSize: maxSize, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perW {
				line := fmt.Sprintf("w=%d i=%d ", g, i)
				line += strings.Repeat("x", lineSize-len(line)-1) + "\n"
				if _, err := w.Write([]byte(line)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	seen := map[string]int{}
	files := 0
	for _, p := range append([]string{path}, rotated(path, keep)...) {
		f, err := os.Open(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		fi, _ := f.Stat()
		if fi.Size() > maxSize {
			t.Errorf("%s holds %d bytes, over the %d limit", p, fi.Size(), maxSize)
		}
		if fi.Mode().Perm() != Mode {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode().Perm(), Mode)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			l := sc.Text()
			if len(l) != lineSize-1 {
				t.Fatalf("%s: a broken line %q", p, l)
			}
			seen[strings.Fields(l)[0]+" "+strings.Fields(l)[1]]++
		}
		f.Close()
	}
	if files < 10 {
		t.Errorf("only %d files: too few rotations to prove anything", files)
	}
	if len(seen) != writers*perW {
		t.Errorf("%d distinct lines found, want %d", len(seen), writers*perW)
	}
	for l, n := range seen {
		if n != 1 {
			t.Errorf("line %q found %d times", l, n)
		}
	}
}

// TestKeepDropsTheOldest: only Keep rotated files remain, the newest lines
// in the current file.
func TestKeepDropsTheOldest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gpmd.log")
	w, err := Open(path, Options{MaxSize: 10, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		fmt.Fprintf(w, "line %d..\n", i) // 10 bytes: one line per file
	}
	w.Close()
	for want, p := range map[string]string{"line 5..\n": path, "line 4..\n": path + ".1", "line 3..\n": path + ".2"} {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("%s holds %q (%v), want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3 exists beyond Keep=2 (%v)", path, err)
	}
}

// TestFailedRotationLosesNothing: when the rotated name cannot be taken
// (a folder sits there), lines go on into the current file.
func TestFailedRotationLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gpmd.log")
	if err := os.MkdirAll(filepath.Join(path+".1", "block"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := Open(path, Options{MaxSize: 10, Keep: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		fmt.Fprintf(w, "line %d..\n", i)
	}
	w.Close()
	got, _ := os.ReadFile(path)
	if n := strings.Count(string(got), "\n"); n != 5 {
		t.Errorf("current file holds %d lines, want all 5:\n%s", n, got)
	}
}

func rotated(path string, keep int) []string {
	var out []string
	for i := 1; i <= keep; i++ {
		out = append(out, path+"."+strconv.Itoa(i))
	}
	return out
}
