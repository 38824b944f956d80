package modulesjson_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
