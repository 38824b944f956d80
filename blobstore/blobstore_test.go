package blobstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
)

// sizes around every boundary of the writer: empty, tiny, the chunk size,
// the in-memory limit, and several chunks past it.
var sizes = []int{
	0, 1, 100,
	chunkSize - 1, chunkSize, chunkSize + 1,
	memLimit - 1, memLimit, memLimit + 1,
	2*memLimit + 3*chunkSize + 7,
}

func TestPutReadStat(t *testing.T) {
	s := newStore(t)
	for i, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			b := randBytes(n, uint64(i))
			want := digest.FromBytes(b)
			info, existed, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if existed || info.Digest != want || info.Size != int64(n) || info.ModTime.IsZero() {
				t.Fatalf("Put = %+v, existed %v; want digest %s, size %d, existed false", info, existed, want, n)
			}

			p, err := s.Path(want)
			if err != nil {
				t.Fatal(err)
			}
			if wantPath := filepath.Join(s.Root(), "blobs", "sha256", want.Encoded()); p != wantPath {
				t.Errorf("Path = %s, want %s", p, wantPath)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o400 {
				t.Errorf("committed file has mode %v, want 0400", fi.Mode().Perm())
			}

			st, err := s.Stat(want)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if st.Digest != want || st.Size != int64(n) || !st.ModTime.Equal(fi.ModTime()) {
				t.Errorf("Stat = %+v, want digest %s size %d mtime %v", st, want, n, fi.ModTime())
			}

			r, err := s.Open(want)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer r.Close()
			if r.Size() != int64(n) || r.Digest() != want {
				t.Errorf("Reader Size %d Digest %s, want %d %s", r.Size(), r.Digest(), n, want)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("reading: %v", err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("read %d bytes, not the %d written", len(got), n)
			}
			// After the end, the end again.
			if k, err := r.Read(make([]byte, 1)); k != 0 || err != io.EOF {
				t.Errorf("Read after EOF = %d, %v; want 0, EOF", k, err)
			}
			if err := s.Verify(t.Context(), want); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// TestWriterSmallWrites feeds a blob a few bytes at a time across the
// in-memory limit, as a network stream would.
func TestWriterSmallWrites(t *testing.T) {
	s := newStore(t)
	b := randBytes(memLimit+5000, 1)
	w, err := s.NewWriter(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for off := 0; off < len(b); off += 777 {
		end := min(off+777, len(b))
		if n, err := w.Write(b[off:end]); n != end-off || err != nil {
			t.Fatalf("Write at %d = %d, %v", off, n, err)
		}
		if w.Size() != int64(end) {
			t.Fatalf("Size = %d, want %d", w.Size(), end)
		}
	}
	if w.Digest() != digest.FromBytes(b) {
		t.Fatalf("Digest = %s, want %s", w.Digest(), digest.FromBytes(b))
	}
	info, existed, err := w.Commit(t.Context(), digest.FromBytes(b))
	if err != nil || existed || info.Size != int64(len(b)) {
		t.Fatalf("Commit = %+v, %v, %v", info, existed, err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	got, err := readBlob(t, s, info.Digest)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
}

// TestReadFromOddReaders streams through io.Copy (which uses ReadFrom) from
// readers that return short reads or data together with io.EOF, across the
// in-memory limit, and mixes ReadFrom with Write.
func TestReadFromOddReaders(t *testing.T) {
	s := newStore(t)
	readers := map[string]func([]byte) io.Reader{
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		"dataErr":  func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"onlyRead": func(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} },
	}
	for name, mk := range readers {
		for i, n := range []int{1, memLimit - 1, memLimit, memLimit + 1, 2*memLimit + 5} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				b := randBytes(n, uint64(300+i))
				w, err := s.NewWriter(t.Context(), 0)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				head := min(n, 10)
				if _, err := w.Write(b[:head]); err != nil {
					t.Fatal(err)
				}
				if k, err := io.Copy(w, mk(b[head:])); err != nil || k != int64(n-head) {
					t.Fatalf("io.Copy = %d, %v; want %d", k, err, n-head)
				}
				info, _, err := w.Commit(t.Context(), digest.FromBytes(b))
				if err != nil || info.Size != int64(n) {
					t.Fatalf("Commit = %+v, %v", info, err)
				}
				if got, err := readBlob(t, s, info.Digest); err != nil || !bytes.Equal(got, b) {
					t.Fatalf("read back %d bytes, %v", len(got), err)
				}
			})
		}
	}
}

func TestWriterLifecycle(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()

	t.Run("close aborts", func(t *testing.T) {
		for _, n := range []int{10, 2 * memLimit} {
			w, err := s.NewWriter(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(randBytes(n, 7)); err != nil {
				t.Fatal(err)
			}
			if n > memLimit && len(ingestNames(t, s)) != 1 {
				t.Fatalf("a %d-byte write has no temporary file: %v", n, ingestNames(t, s))
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if left := ingestNames(t, s); len(left) != 0 {
				t.Fatalf("Close left %v", left)
			}
			if _, err := s.Stat(digest.FromBytes(randBytes(n, 7))); !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("aborted blob: Stat err = %v, want errdefs.ErrNotFound", err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Fatal("Write after Close succeeded")
			}
			if _, _, err := w.Commit(ctx, ""); err == nil {
				t.Fatal("Commit after Close succeeded")
			}
		}
	})

	t.Run("use after commit", func(t *testing.T) {
		w, err := s.NewWriter(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		w.Write([]byte("once"))
		if _, _, err := w.Commit(ctx, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("more")); err == nil {
			t.Fatal("Write after Commit succeeded")
		}
		if _, _, err := w.Commit(ctx, ""); err == nil {
			t.Fatal("second Commit succeeded")
		}
		got, err := readBlob(t, s, digest.FromString("once"))
		if err != nil || string(got) != "once" {
			t.Fatalf("blob = %q, %v", got, err)
		}
	})
}

func TestDelete(t *testing.T) {
	s := newStore(t)
	b := randBytes(5000, 3)
	info := mustPut(t, s, b)

	// A reader opened before the delete keeps its file.
	r, err := s.Open(info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if err := s.Delete(info.Digest); err != nil {
		t.Fatalf("Delete of a read-only blob: %v", err)
	}
	if _, err := s.Stat(info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want errdefs.ErrNotFound", err)
	}
	if _, err := s.Open(info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Open after Delete: %v, want errdefs.ErrNotFound", err)
	}
	if err := s.Verify(t.Context(), info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Verify after Delete: %v, want errdefs.ErrNotFound", err)
	}
	if err := s.Delete(info.Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("second Delete: %v, want errdefs.ErrNotFound", err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, b) {
		t.Errorf("reader opened before Delete: %d bytes, %v", len(got), err)
	}
	if len(blobNames(t, s)) != 0 {
		t.Errorf("blobs/sha256 after Delete: %v", blobNames(t, s))
	}

	// The same bytes can be stored again.
	if _, existed, err := s.Put(t.Context(), bytes.NewReader(b), info.Digest, 0); err != nil || existed {
		t.Fatalf("Put after Delete: existed %v, %v", existed, err)
	}
}

func TestWalk(t *testing.T) {
	s := newStore(t)
	var blobs [][]byte
	for i := range 20 {
		b := randBytes(i*997, uint64(100+i))
		blobs = append(blobs, b)
		mustPut(t, s, b)
	}
	want := sortedDigests(blobs...)

	// Things in blobs/sha256 that are not blobs: Walk skips them.
	upper := strings.ToUpper(digest.FromString("upper").Encoded())
	junk := []string{"README", upper, strings.Repeat("a", 63), strings.Repeat("b", 65), ".tmp-" + strings.Repeat("c", 64)}
	for _, name := range junk {
		if err := os.WriteFile(filepath.Join(s.blobsDir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirName := digest.FromString("a directory").Encoded()
	if err := os.Mkdir(filepath.Join(s.blobsDir, dirName), 0o755); err != nil {
		t.Fatal(err)
	}
	linkName := digest.FromString("a symlink").Encoded()
	if err := os.Symlink(filepath.Join(s.blobsDir, want[0].Encoded()), filepath.Join(s.blobsDir, linkName)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the invariant check
		for _, name := range append(junk, dirName, linkName) {
			os.Remove(filepath.Join(s.blobsDir, name))
		}
	})

	var got []digest.Digest
	err := s.Walk(t.Context(), func(info Info) error {
		got = append(got, info.Digest)
		st, err := s.Stat(info.Digest)
		if err != nil || st != info {
			t.Errorf("Walk gave %+v, Stat gives %+v, %v", info, st, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Walk gave %d digests %v,\nwant %d in order %v", len(got), got, len(want), want)
	}

	t.Run("error from fn stops", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := s.Walk(t.Context(), func(Info) error { calls++; return stop })
		if err != stop || calls != 1 {
			t.Fatalf("Walk = %v after %d calls, want stop after 1", err, calls)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		err := s.Walk(ctx, func(Info) error {
			calls++
			if calls == 3 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 3 {
			t.Fatalf("Walk = %v after %d calls, want context.Canceled after 3", err, calls)
		}
	})
}

func TestDedupe(t *testing.T) {
	for _, n := range []int{0, 1000, memLimit, memLimit + 1, 3 * memLimit} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newStore(t)
			calls := countOps(s)
			b := randBytes(n, 42)

			first, existed, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
			if err != nil || existed {
				t.Fatalf("first Put: existed %v, %v", existed, err)
			}
			calls.snapshot()
			second, existed, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
			if err != nil || !existed {
				t.Fatalf("second Put: existed %v, %v; want existed true", existed, err)
			}
			if second != first {
				t.Errorf("second Put = %+v, want the first %+v", second, first)
			}
			if got := blobNames(t, s); len(got) != 1 || got[0] != first.Digest.Encoded() {
				t.Errorf("blobs/sha256 = %v, want one file", got)
			}
			// The duplicate costs a hash: never a sync or rename, and no
			// temporary file at all while it fits in memory.
			made := calls.snapshot()
			if made["sync"] != 0 || made["rename"] != 0 || made["syncDir"] != 0 || made["chmod"] != 0 {
				t.Errorf("duplicate write made %v", made)
			}
			if n <= memLimit && made["createTemp"] != 0 {
				t.Errorf("duplicate of %d bytes created %d temporary files", n, made["createTemp"])
			}
			if n > memLimit && made["createTemp"] != 1 { // else the check above proves little
				t.Errorf("duplicate of %d bytes created %d temporary files, want 1", n, made["createTemp"])
			}

			// With the expected digest named, even a large duplicate writes
			// nothing: it is only hashed.
			third, existed, err := s.Put(t.Context(), bytes.NewReader(b), first.Digest, 0)
			if err != nil || !existed || third != first {
				t.Fatalf("Put with expected digest = %+v, existed %v, %v", third, existed, err)
			}
			if made := calls.snapshot(); len(made) != 0 {
				t.Errorf("duplicate with expected digest made %v", made)
			}
			// ... but a lie about it is still caught, and the blob stays.
			other := append(bytes.Clone(b), 'x')
			_, _, err = s.Put(t.Context(), bytes.NewReader(other), first.Digest, 0)
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Errorf("Put of other bytes under a stored digest: %v, want errdefs.ErrCorrupt", err)
			}
			if err := s.Verify(t.Context(), first.Digest); err != nil {
				t.Errorf("stored blob after the lie: %v", err)
			}
		})
	}
}

// opCounts counts the calls a store makes through its fileOps, by name.
type opCounts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *opCounts) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[op]++
}

func (c *opCounts) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// snapshot returns the counts and starts again from zero.
func (c *opCounts) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = map[string]int{}
	return n
}

// countOps makes s count its file calls.
func countOps(s *Store) *opCounts {
	c := &opCounts{n: map[string]int{}}
	o := s.ops
	s.ops.createTemp = func(dir, pat string) (*os.File, error) { c.add("createTemp"); return o.createTemp(dir, pat) }
	s.ops.write = func(f *os.File, p []byte) (int, error) { c.add("write"); return o.write(f, p) }
	s.ops.chmod = func(f *os.File, m os.FileMode) error { c.add("chmod"); return o.chmod(f, m) }
	s.ops.sync = func(f *os.File) error { c.add("sync"); return o.sync(f) }
	s.ops.rename = func(a, b string) error { c.add("rename"); return o.rename(a, b) }
	s.ops.syncDir = func(d string) error { c.add("syncDir"); return o.syncDir(d) }
	return c
}

func TestExpectedMismatchLeavesNothing(t *testing.T) {
	for _, n := range []int{10, memLimit + 10} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newStore(t)
			b := randBytes(n, 5)
			wrong := digest.FromString("something else")
			_, _, err := s.Put(t.Context(), bytes.NewReader(b), wrong, 0)
			if !errors.Is(err, errdefs.ErrCorrupt) {
				t.Fatalf("Put with wrong expected digest: %v, want errdefs.ErrCorrupt", err)
			}
			if !strings.Contains(err.Error(), wrong.String()) || !strings.Contains(err.Error(), digest.FromBytes(b).String()) {
				t.Errorf("error %q does not name both digests", err)
			}
			if got := blobNames(t, s); len(got) != 0 {
				t.Errorf("blobs after mismatch: %v", got)
			}
			if got := ingestNames(t, s); len(got) != 0 {
				t.Errorf("ingest after mismatch: %v", got)
			}
		})
	}
}

func TestTooLargeLeavesNothing(t *testing.T) {
	for _, n := range []int{100, memLimit + 100, 3 * memLimit} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newStore(t)
			b := randBytes(n, 6)
			_, _, err := s.Put(t.Context(), bytes.NewReader(b), "", int64(n-1))
			if !errors.Is(err, errdefs.ErrTooLarge) {
				t.Fatalf("Put of %d bytes with limit %d: %v, want errdefs.ErrTooLarge", n, n-1, err)
			}
			if got := blobNames(t, s); len(got) != 0 {
				t.Errorf("blobs after too large: %v", got)
			}
			if got := ingestNames(t, s); len(got) != 0 {
				t.Errorf("ingest after too large: %v", got)
			}
			// Exactly at the limit is fine.
			info, _, err := s.Put(t.Context(), bytes.NewReader(b), "", int64(n))
			if err != nil || info.Size != int64(n) {
				t.Fatalf("Put at the limit: %+v, %v", info, err)
			}
			// Over the limit is refused also when the blob is stored and
			// only hashed.
			longer := append(bytes.Clone(b), 0)
			_, _, err = s.Put(t.Context(), bytes.NewReader(longer), info.Digest, int64(n))
			if !errors.Is(err, errdefs.ErrTooLarge) {
				t.Fatalf("Put over the limit with a stored expected digest: %v, want errdefs.ErrTooLarge", err)
			}
		})
	}
}

func TestCorruptBlobDetected(t *testing.T) {
	cases := []struct {
		name string
		edit func([]byte) []byte
	}{
		{"flipped byte", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }},
		{"extended", func(b []byte) []byte { return append(b, 0) }},
		{"emptied", func(b []byte) []byte { return nil }},
	}
	for _, c := range cases {
		for _, n := range []int{1, 3 * chunkSize} {
			t.Run(fmt.Sprintf("%s/%d", c.name, n), func(t *testing.T) {
				s := newStore(t)
				b := randBytes(n, 9)
				info := mustPut(t, s, b)
				corrupt(t, s, info.Digest, c.edit)
				t.Cleanup(func() { s.Delete(info.Digest) }) // before the invariant check

				_, err := readBlob(t, s, info.Digest)
				if !errors.Is(err, errdefs.ErrCorrupt) {
					t.Fatalf("reading the corrupt blob: %v, want errdefs.ErrCorrupt", err)
				}
				if !strings.Contains(err.Error(), info.Digest.String()) {
					t.Errorf("error %q does not name the blob", err)
				}
				if err := s.Verify(t.Context(), info.Digest); !errors.Is(err, errdefs.ErrCorrupt) {
					t.Fatalf("Verify of the corrupt blob: %v, want errdefs.ErrCorrupt", err)
				}
			})
		}
	}

	t.Run("rewrite repairs a copy of the wrong size", func(t *testing.T) {
		s := newStore(t)
		b := randBytes(1000, 10)
		info := mustPut(t, s, b)
		corrupt(t, s, info.Digest, func(b []byte) []byte { return b[:10] })
		_, existed, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
		if err != nil || existed {
			t.Fatalf("Put over a truncated copy: existed %v, %v; want a fresh write", existed, err)
		}
		if err := s.Verify(t.Context(), info.Digest); err != nil {
			t.Fatalf("after the rewrite: %v", err)
		}
	})

	// A Put naming the digest of a damaged copy replaces it: an
	// acknowledged write is always readable (issue 16, point 7).
	for _, c := range []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:10] }},
		{"same size, one byte flipped", func(b []byte) []byte { b[500] ^= 0xff; return b }},
	} {
		for _, expected := range []bool{true, false} {
			t.Run(fmt.Sprintf("put repairs a %s copy (expected digest %v)", c.name, expected), func(t *testing.T) {
				s := newStore(t)
				b := randBytes(1000, 11)
				info := mustPut(t, s, b)
				corrupt(t, s, info.Digest, c.damage)
				want := digest.Digest("")
				if expected {
					want = info.Digest
				}
				_, existed, err := s.Put(t.Context(), bytes.NewReader(b), want, 0)
				if err != nil || existed {
					t.Fatalf("Put over a damaged copy: existed %v, %v; want a fresh write", existed, err)
				}
				if err := s.Verify(t.Context(), info.Digest); err != nil {
					t.Fatalf("after the repair: %v", err)
				}
				if n := s.Repaired(); n != 1 {
					t.Fatalf("Repaired = %d, want 1", n)
				}
				// A sound copy is not counted again.
				if _, existed, err := s.Put(t.Context(), bytes.NewReader(b), want, 0); err != nil || !existed || s.Repaired() != 1 {
					t.Fatalf("Put over the repaired copy: existed %v, %v, repaired %d", existed, err, s.Repaired())
				}
			})
		}
	}
}

func TestOpenSweepsIngest(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	kept := mustPut(t, s, []byte("committed before the crash"))

	// What a crash leaves: a temporary file (read-only, as after the
	// chmod step), a partial one, and odd things.
	leftovers := map[string]os.FileMode{"blob-123": 0o444, "blob-456": 0o600, "other": 0o644}
	for name, mode := range leftovers {
		if err := os.WriteFile(filepath.Join(s.ingestDir, name), []byte("partial"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(s.ingestDir, "dir", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if len(ingestNames(t, s)) != 4 {
		t.Fatalf("setup: ingest holds %v", ingestNames(t, s))
	}

	s2, err := Open(root)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { checkInvariants(t, s2) })
	if left := ingestNames(t, s2); len(left) != 0 {
		t.Fatalf("Open left %v in ingest/", left)
	}
	if err := s2.Verify(t.Context(), kept.Digest); err != nil {
		t.Fatalf("committed blob after reopen: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	root := t.TempDir()
	// blobs is a file, not a folder: the layout cannot be made.
	if err := os.WriteFile(filepath.Join(root, "blobs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(root); err == nil || !strings.Contains(err.Error(), root) {
		t.Fatalf("Open over a file named blobs: %v, want an error naming the root", err)
	}
}

func TestInvalidDigest(t *testing.T) {
	s := newStore(t)
	hex := digest.FromString("x").Encoded()
	bad := []digest.Digest{
		"",
		"sha256:../../x",
		digest.Digest("sha256:../../../../../../etc/passwd" + hex[:36]), // 64 characters after the colon
		digest.Digest("sha256:" + strings.ToUpper(hex)),
		digest.Digest("sha256:" + hex[:63]),
		digest.Digest("sha256:" + hex + "0"),
		digest.Digest("sha256:" + hex[:63] + "/"),
		digest.Digest("sha256:" + hex[:63] + "g"),
		digest.Digest("SHA256:" + hex),
		digest.Digest("sha512:" + hex + hex),
		digest.Digest("sha384:" + hex[:48] + hex[:48]),
		digest.Digest("md5:" + hex[:32]),
		digest.Digest(hex),
		digest.Digest("sha256:" + hex + "\x00"),
		digest.Digest(" sha256:" + hex),
	}
	if len(bad[2].Encoded()) != 64 {
		t.Fatalf("setup: traversal case has %d characters", len(bad[2].Encoded()))
	}
	ctx := t.Context()
	for _, d := range bad {
		t.Run(fmt.Sprintf("%q", d), func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, errdefs.ErrInvalid) {
					t.Errorf("%s: %v, want errdefs.ErrInvalid", op, err)
				}
			}
			_, err := s.Path(d)
			check("Path", err)
			_, err = s.Stat(d)
			check("Stat", err)
			_, err = s.Open(d)
			check("Open", err)
			check("Delete", s.Delete(d))
			check("Verify", s.Verify(ctx, d))
			if d != "" { // "" means no expected digest
				_, _, err = s.Put(ctx, strings.NewReader("x"), d, 0)
				check("Put", err)
				w, err := s.NewWriter(ctx, 0)
				if err != nil {
					t.Fatal(err)
				}
				w.Write([]byte("x"))
				_, _, err = w.Commit(ctx, d)
				check("Commit", err)
				w.Close()
			}
		})
	}
	if got := blobNames(t, s); len(got) != 0 {
		t.Errorf("blobs after invalid digests: %v", got)
	}
	if _, err := s.Path(digest.FromString("x")); err != nil {
		t.Errorf("valid digest refused: %v", err)
	}
}

func TestConcurrentPuts(t *testing.T) {
	s := newStore(t)
	const writers = 8
	const rounds = 4
	// Each writer puts the shared blobs (same bytes, small and large) and
	// its own blobs (different bytes), while readers read whatever exists.
	shared := [][]byte{randBytes(3000, 500), randBytes(memLimit+3000, 501)}
	own := func(i, r int) []byte { return randBytes(2000+i*memLimit/3, uint64(1000+i*rounds+r)) }

	all := slices.Clone(shared)
	for i := range writers {
		for r := range rounds {
			all = append(all, own(i, r))
		}
	}
	want := sortedDigests(all...)

	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds*3+writers)
	done := make(chan struct{})
	for i := range writers {
		wg.Go(func() {
			for r := range rounds {
				for _, b := range [][]byte{shared[0], shared[1], own(i, r)} {
					info, _, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
					if err != nil {
						errs <- fmt.Errorf("writer %d: %w", i, err)
					} else if info.Digest != digest.FromBytes(b) || info.Size != int64(len(b)) {
						errs <- fmt.Errorf("writer %d: Put = %+v", i, info)
					}
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			// A blob that can be opened is whole: it reads to the end with
			// no mismatch, even while identical copies are renamed over it.
			for k := 0; k < 10000; k++ {
				select {
				case <-done:
					return
				default:
				}
				d := want[k%len(want)]
				if _, err := readBlob(t, s, d); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	var got []digest.Digest
	if err := s.Walk(t.Context(), func(i Info) error { got = append(got, i.Digest); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after concurrent puts the store holds %d blobs, want %d", len(got), len(want))
	}
}

// TestConcurrentCommitSameBytes holds two writers of the same blob between
// the existence check and the rename until both are there, so both rename
// (the second over the first's identical file): both must succeed.
func TestConcurrentCommitSameBytes(t *testing.T) {
	s := newStore(t)
	calls := countOps(s)
	chmod := s.ops.chmod
	arrived := make(chan struct{}, 2)
	release := make(chan struct{})
	s.ops.chmod = func(f *os.File, m os.FileMode) error {
		arrived <- struct{}{}
		<-release
		return chmod(f, m)
	}
	go func() {
		defer close(release)
		timeout := time.After(10 * time.Second)
		for range 2 {
			select {
			case <-arrived:
			case <-timeout: // do not hang; the counts below then fail the test
				return
			}
		}
	}()

	b := randBytes(1000, 600)
	var wg sync.WaitGroup
	var errs [2]error
	var existed [2]bool
	for i := range 2 {
		wg.Go(func() {
			_, existed[i], errs[i] = s.Put(t.Context(), bytes.NewReader(b), "", 0)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || existed[i] {
			t.Errorf("writer %d: existed %v, %v; want a fresh write", i, existed[i], err)
		}
	}
	if n := calls.get("rename"); n != 2 {
		t.Errorf("%d renames, want 2 (both writers past the existence check)", n)
	}
	if got := blobNames(t, s); len(got) != 1 {
		t.Errorf("blobs = %v, want one", got)
	}
}

// cancelingReader cancels its context once it has returned after bytes.
type cancelingReader struct {
	r      io.Reader
	after  int
	cancel context.CancelFunc
	n      int
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	if c.n >= c.after {
		c.cancel()
	}
	return n, err
}

func TestCancellation(t *testing.T) {
	s := newStore(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	if _, err := s.NewWriter(canceled, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("NewWriter: %v, want context.Canceled", err)
	}
	if _, _, err := s.Put(canceled, strings.NewReader("x"), "", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Put: %v, want context.Canceled", err)
	}
	if err := s.Walk(canceled, func(Info) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Walk: %v, want context.Canceled", err)
	}
	stored := mustPut(t, s, randBytes(100, 1))
	if err := s.Verify(canceled, stored.Digest); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify: %v, want context.Canceled", err)
	}
	if _, _, err := s.Put(canceled, bytes.NewReader(randBytes(100, 1)), stored.Digest, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Put of a stored blob: %v, want context.Canceled", err)
	}

	// Canceled in the middle of a stream, before and after the in-memory
	// limit: the write stops between chunks and leaves nothing.
	for _, after := range []int{chunkSize, 2 * memLimit} {
		ctx, cancel := context.WithCancel(t.Context())
		b := randBytes(4*memLimit, 2)
		r := &cancelingReader{r: bytes.NewReader(b), after: after, cancel: cancel}
		_, _, err := s.Put(ctx, r, "", 0)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Put canceled after %d bytes: %v, want context.Canceled", after, err)
		}
		if r.n >= len(b) {
			t.Errorf("Put canceled after %d bytes read the whole input", after)
		}
		if _, err := s.Stat(digest.FromBytes(b)); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("canceled blob: Stat %v, want errdefs.ErrNotFound", err)
		}
	}

	// A single large Write is split into chunks, each preceded by a check.
	ctx, cancel := context.WithCancel(t.Context())
	w, err := s.NewWriter(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cancel()
	if n, err := w.Write(make([]byte, 3*chunkSize)); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Write after cancel = %d, %v", n, err)
	}

	// Commit honours its own context.
	w2, err := s.NewWriter(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w2.Write(randBytes(2*memLimit, 3))
	if _, _, err := w2.Commit(canceled, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a canceled context: %v", err)
	}
	if left := ingestNames(t, s); len(left) != 0 {
		t.Errorf("ingest after canceled writes: %v", left)
	}
}

// failingReader returns some bytes, then an error.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestInputErrorLeavesNothing(t *testing.T) {
	s := newStore(t)
	boom := errors.New("connection reset")
	for _, n := range []int{10, 2 * memLimit} {
		_, _, err := s.Put(t.Context(), &failingReader{bytes.NewReader(randBytes(n, 4)), boom}, "", 0)
		if !errors.Is(err, boom) {
			t.Errorf("Put from a failing reader: %v, want the reader's error", err)
		}
	}
	if got := blobNames(t, s); len(got) != 0 {
		t.Errorf("blobs after failed input: %v", got)
	}
}
