package blobstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// newStore opens a store in a fresh temporary folder and checks the store's
// invariants when the test ends (see checkInvariants). Tests that leave
// something odd behind on purpose clean it up in a t.Cleanup registered
// after newStore, which runs first.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { checkInvariants(t, s) })
	return s
}

// checkInvariants asserts what the package doc promises about the disk:
// blobs/ holds only sha256/, every file in it is a read-only blob whose
// bytes hash to its name, and no temporary file outlives its writer.
func checkInvariants(t testing.TB, s *Store) {
	t.Helper()
	top, err := os.ReadDir(filepath.Join(s.Root(), blobsDirName))
	if err != nil {
		t.Errorf("invariant: %v", err)
		return
	}
	if len(top) != 1 || top[0].Name() != algDirName {
		t.Errorf("invariant: blobs/ holds %v, want only sha256", names(top))
	}
	entries, err := os.ReadDir(s.blobsDir)
	if err != nil {
		t.Errorf("invariant: %v", err)
		return
	}
	for _, e := range entries {
		p := filepath.Join(s.blobsDir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("invariant: %v", err)
			continue
		}
		if !fi.Mode().IsRegular() || !isHex(e.Name()) {
			t.Errorf("invariant: blobs/sha256/%s is not a blob (mode %v)", e.Name(), fi.Mode())
			continue
		}
		if fi.Mode().Perm() != blobMode {
			t.Errorf("invariant: blobs/sha256/%s has mode %v, want %v", e.Name(), fi.Mode().Perm(), blobMode)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("invariant: %v", err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != e.Name() {
			t.Errorf("invariant: blobs/sha256/%s is not complete (%d bytes hash to %x)", e.Name(), len(b), sum)
		}
	}
	if left := ingestNames(t, s); len(left) != 0 {
		t.Errorf("invariant: ingest/ holds %v after all writers ended", left)
	}
}

func names(entries []os.DirEntry) []string {
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

func ingestNames(t testing.TB, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.ingestDir)
	if err != nil {
		t.Fatalf("reading ingest: %v", err)
	}
	return names(entries)
}

// blobNames lists the files in blobs/sha256.
func blobNames(t testing.TB, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.blobsDir)
	if err != nil {
		t.Fatalf("reading blobs: %v", err)
	}
	return names(entries)
}

// randBytes returns n reproducible pseudo-random bytes.
func randBytes(n int, seed uint64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	key[2] = byte(seed >> 16)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

// mustPut stores b and fails the test on error.
func mustPut(t testing.TB, s *Store, b []byte) Info {
	t.Helper()
	info, _, err := s.Put(t.Context(), bytes.NewReader(b), "", 0)
	if err != nil {
		t.Fatalf("Put(%d bytes): %v", len(b), err)
	}
	return info
}

// readBlob reads blob d through the verifying Reader.
func readBlob(t testing.TB, s *Store, d digest.Digest) ([]byte, error) {
	t.Helper()
	r, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// corrupt rewrites a committed (read-only) blob file through edit, as a
// failing disk or a careless hand would, and restores its mode.
func corrupt(t testing.TB, s *Store, d digest.Digest, edit func([]byte) []byte) {
	t.Helper()
	p, err := s.Path(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, edit(b), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, blobMode); err != nil {
		t.Fatal(err)
	}
}

// sortedDigests returns the digests of bs in digest order, without repeats.
func sortedDigests(bs ...[]byte) []digest.Digest {
	var ds []digest.Digest
	for _, b := range bs {
		ds = append(ds, digest.FromBytes(b))
	}
	slices.Sort(ds)
	return slices.Compact(ds)
}
