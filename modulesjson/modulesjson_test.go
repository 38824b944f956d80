package modulesjson_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// TestEncodeRead: what the mirror writes reads back whole, created time
// included, and the bytes depend only on the records.
func TestEncodeRead(t *testing.T) {
	created := time.Date(2026, 3, 4, 5, 6, 7, 8, time.FixedZone("x", 3600))
	a, b := testutil.Wasm("a", 100), testutil.Wasm("b", 200)
	recs := []index.Record{
		{Name: "alpha", Version: "v1.1.0", Digest: digest.FromBytes(b), Size: int64(len(b)), Created: created},
		{Name: "alpha", Version: "1.0.0", Digest: digest.FromBytes(a), Size: int64(len(a)), Created: created.Add(time.Hour)},
		{Name: "beta", Version: "0.1.0", Digest: digest.FromBytes(a), Size: int64(len(a)), Created: created},
	}
	data, err := modulesjson.EncodeRecords(recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := modulesjson.EncodeRecords(recs, nil)
	if err != nil || !bytes.Equal(data, again) {
		t.Fatalf("encoding twice gave other bytes (%v)", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	entries, err := modulesjson.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(recs) {
		t.Fatalf("read %d entries, wrote %d:\n%s", len(entries), len(recs), data)
	}
	// Read orders versions ascending; the file holds them highest first.
	for i, want := range []index.Record{recs[1], recs[0], recs[2]} {
		e := entries[i]
		if e.Err != nil || e.Name != want.Name || e.Version != want.Version || e.Digest != want.Digest ||
			e.Size != want.Size || !e.Created.Equal(want.Created) ||
			e.File != filepath.Join(dir, "blobs", "sha256", want.Digest.Encoded()) {
			t.Errorf("entry %d = %+v, want %+v", i, e, want)
		}
	}
}

func TestDecodeRefusesOtherShapes(t *testing.T) {
	for _, bad := range []string{"{", "null", `[]`, `{"a": null}`, `{"a": {"versions": []}}`} {
		if _, err := modulesjson.Decode([]byte(bad)); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("Decode(%s) = %v, want errdefs.ErrInvalid", bad, err)
		}
	}
	if _, err := modulesjson.Read(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Read of a folder without the file = %v, want ErrNotExist", err)
	}
}

// TestEncodeReadTombstones: tombstones go in each name's "removed" object
// (a name with only tombstones is listed with empty versions), read back
// checked, and a bad one is reported apart.
func TestEncodeReadTombstones(t *testing.T) {
	removed := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	a := testutil.Wasm("a", 100)
	recs := []index.Record{{Name: "beta", Version: "1.0.0", Digest: digest.FromBytes(a), Size: 100, Created: removed}}
	tombs := []index.Tombstone{
		{Name: "alpha", Version: "0.1.0", Digest: digest.FromBytes(a), Size: 100, Removed: removed},
		{Name: "beta", Version: "0.9.0", Digest: digest.FromBytes(a), Size: 100, Removed: removed},
		{Name: "gamma", Version: "2.0.0", Digest: digest.FromBytes(a), Size: 100, Removed: removed},
	}
	data, err := modulesjson.EncodeRecords(recs, tombs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, modulesjson.FileName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	mods, err := modulesjson.ReadModules(dir)
	if err != nil || len(mods) != 3 || len(mods["alpha"].Versions) != 0 || len(mods["beta"].Versions) != 1 || len(mods["beta"].Removed) != 1 {
		t.Fatalf("ReadModules = %+v, %v\n%s", mods, err, data)
	}
	got, bad, err := modulesjson.ReadTombstones(dir)
	if err != nil || len(bad) != 0 || len(got) != 3 {
		t.Fatalf("ReadTombstones = %+v, %v, %v", got, bad, err)
	}
	for i := range tombs {
		if got[i] != tombs[i] {
			t.Errorf("tombstone %d = %+v, want %+v", i, got[i], tombs[i])
		}
	}
	entries, err := modulesjson.Read(dir)
	if err != nil || len(entries) != 1 || entries[0].Name != "beta" {
		t.Fatalf("Read = %+v, %v", entries, err)
	}
	// A crafted tombstone is reported, not returned.
	crafted := bytes.Replace(data, []byte(`"2.0.0": {"version":"2.0.0"`), []byte(`"2.0.0\u001b[31m": {"version":"2.0.0\u001b[31m"`), 1)
	if bytes.Equal(crafted, data) {
		t.Fatalf("the test's edit did not apply:\n%s", data)
	}
	os.WriteFile(filepath.Join(dir, modulesjson.FileName), crafted, 0o644)
	if got, bad, err := modulesjson.ReadTombstones(dir); err != nil || len(bad) != 1 || len(got) != 2 {
		t.Fatalf("ReadTombstones of a crafted one = %+v, %v, %v", got, bad, err)
	}
}

// TestReadModulesBounds: a mirror over MaxFileSize (sparse here) or a FIFO
// is refused without reading it.
func TestReadModulesBounds(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, modulesjson.FileName)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, modulesjson.MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	if _, err := modulesjson.ReadModules(dir); err == nil {
		t.Fatal("a mirror over the limit was read")
	}
	os.Remove(p)
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := modulesjson.ReadModules(dir); err == nil {
		t.Fatal("a FIFO mirror was read")
	}
}
