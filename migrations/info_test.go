package migrations

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/internal/testutil/wasmtest"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// schema3Entry is one version of a schema-3 file, with the bytes its blob
// holds; missing leaves the blob out of the store.
type schema3Entry struct {
	Name, Version string
	Bytes         []byte
	Missing       bool
	Created       time.Time
}

// headerOnly is the 10-byte file of issue 9: a header, then garbage. Stores
// of schema 3 and before accepted it.
var headerOnly = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff}

// schema3Fixture is what testdata/schema3.db holds (and one tombstone): a module with imports
// and exports of every kind, the smallest module, a module of a custom
// section only, a component, bytes the parser refuses, a version whose
// blob is missing, and one digest named by two versions.
func schema3Fixture() []schema3Entry {
	e := func(name, version string, b []byte, minutes int) schema3Entry {
		return schema3Entry{Name: name, Version: version, Bytes: b, Created: fixtureTime.Add(time.Duration(minutes) * time.Minute)}
	}
	missing := e("lost", "1.0.0", testutil.Wasm("lost", 64), 6)
	missing.Missing = true
	return []schema3Entry{
		e("everything", "v1.0.0", wasmtest.Everything().Bytes(), 0),
		e("tiny", "v0.0.1", testutil.TinyWasm, 1),
		e("custom", "0.1.0", testutil.Wasm("custom", 300), 2),
		e("comp", "1.0.0", []byte{0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00}, 3),
		e("broken", "0.0.1", headerOnly, 4),
		e("copy", "2.0.0", wasmtest.Everything().Bytes(), 5), // same bytes as everything
		missing,
	}
}

// writeSchema3 writes a schema-3 file at path: the versions and refs
// buckets filled through PutTx, and a tombstone, as schema 3 has them
// (schema 4 adds the info bucket and changes nothing else).
func writeSchema3(t testing.TB, path string, entries []schema3Entry) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := index.CreateBucketsTx(tx); err != nil {
			return err
		}
		if err := index.CreateTombstonesTx(tx); err != nil {
			return err
		}
		gone := index.Tombstone{Name: "gone", Version: "1.0.0", Digest: digest.FromString("gone"), Size: 4, Removed: fixtureTime}
		if err := index.PutTombstoneTx(tx, gone); err != nil {
			return err
		}
		for _, e := range entries {
			rec := index.Entry{Ref: index.MustRef(e.Name, e.Version), Digest: digest.FromBytes(e.Bytes), Size: int64(len(e.Bytes)), Created: e.Created}
			if _, _, err := index.PutTx(tx, rec); err != nil {
				return err
			}
		}
		return index.WriteSchemaTx(tx, 3)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeBlobs puts the bytes of every entry not Missing into the blob store
// of dir.
func writeBlobs(t testing.TB, dir string, entries []schema3Entry) {
	t.Helper()
	s, err := blobstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Missing {
			continue
		}
		if _, _, err := s.Put(t.Context(), bytes.NewReader(e.Bytes), digest.FromBytes(e.Bytes), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// checkInfoUpgraded checks the record of every entry in the upgraded file
// against a parse of its bytes: the summary, the detail, the refusal of
// the broken one, and no record for the one whose blob is missing. No
// schema-4 info bucket is left.
func checkInfoUpgraded(t *testing.T, path string, entries []schema3Entry) {
	t.Helper()
	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatalf("index.Open after Upgrade: %v", err)
	}
	defer db.Close()
	for _, e := range entries {
		mi, err := db.Info(index.MustRef(e.Name, e.Version))
		if e.Missing {
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("%s@%s (blob missing): Info = %+v, %v; want ErrNotFound", e.Name, e.Version, mi, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s@%s: %v", e.Name, e.Version, err)
			continue
		}
		info, perr := wasm.Parse(e.Bytes)
		if perr != nil {
			if mi.Refused != perr.Error() || mi.Detail != nil || mi.Kind != "" {
				t.Errorf("%s@%s: record %+v, want the refusal %q", e.Name, e.Version, mi, perr)
			}
			continue
		}
		want, _ := info.MarshalBinary()
		if mi.Refused != "" || mi.Kind != string(info.Kind) || mi.Imports != len(info.Imports) || mi.Exports != len(info.Exports) ||
			!bytes.Equal(mi.Detail, want) || mi.Version != e.Version {
			t.Errorf("%s@%s: record %+v, want kind %s, %d imports, %d exports and the parse's detail", e.Name, e.Version, mi, info.Kind, len(info.Imports), len(info.Exports))
		}
	}
	recorded := 0
	for _, e := range entries {
		if !e.Missing {
			recorded++
		}
	}
	sums, err := db.InfoSummaries("")
	if err != nil || len(sums) != recorded {
		t.Errorf("InfoSummaries = %d records, %v; want %d", len(sums), err, recorded)
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check after upgrade: %v", err)
	}
	if ts, err := db.Tombstones(); err != nil || len(ts) != 1 {
		t.Errorf("Tombstones after upgrade = %+v, %v; want the fixture's one", ts, err)
	}
	db.Close()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("info")) != nil {
			t.Error("the schema-4 info bucket is left after the upgrade")
		}
		return nil
	})
}

// encodeSchema4Info is a schema-4 info value, as schema 4's gpmd wrote it:
// byte 1, uvarint length + bytes of the version, the kind and the
// refusal, uvarint imports, uvarint exports, the detail to the end.
func encodeSchema4Info(version string, mi index.ModuleInfo) []byte {
	b := []byte{1}
	for _, s := range []string{version, mi.Kind, mi.Refused} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(mi.Imports))
	b = binary.AppendUvarint(b, uint64(mi.Exports))
	return append(b, mi.Detail...)
}

// writeSchema4 writes a schema-4 file at path (schema 4 never left the
// development branch, but files of it exist there): the schema-3 file of
// entries, with an info bucket holding the parse of every entry but skip,
// and one record of a version that is not stored.
func writeSchema4(t *testing.T, path string, entries []schema3Entry, skip string) {
	t.Helper()
	writeSchema3(t, path, entries)
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		ib, err := tx.CreateBucket([]byte("info"))
		if err != nil {
			return err
		}
		put := func(name, version string, vkey []byte, mi index.ModuleInfo) error {
			return ib.Put(append(append([]byte(name), 0), vkey...), encodeSchema4Info(version, mi))
		}
		for i, e := range entries {
			if e.Name == skip {
				continue
			}
			info, perr := wasm.Parse(e.Bytes)
			mi, err := ModuleInfoOf(info, perr)
			if err != nil {
				return err
			}
			// The key's version part only has to be distinct here: step 5
			// reads the version from the value.
			if err := put(e.Name, e.Version, []byte{0x02, byte(i)}, mi); err != nil {
				return err
			}
		}
		if err := put("ghost", "1.0.0", []byte{0x02, 0xff}, index.ModuleInfo{Kind: "module"}); err != nil {
			return err
		}
		return index.WriteSchemaTx(tx, 4)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGenerateSchema3Fixture(t *testing.T) {
	if *update {
		os.Remove("testdata/schema3.db")
		writeSchema3(t, "testdata/schema3.db", schema3Fixture())
		t.Log("testdata/schema3.db rewritten")
	}
	fresh := filepath.Join(t.TempDir(), "schema3.db")
	writeSchema3(t, fresh, schema3Fixture())
	if got, want := dumpBolt(t, "testdata/schema3.db"), dumpBolt(t, fresh); !maps.Equal(got, want) {
		t.Fatalf("testdata/schema3.db differs from the generator:\n got %v\nwant %v\n(rerun with -update)", got, want)
	}
}

// TestUpgradeSchema3Fixture upgrades the committed schema-3 file beside
// its blobs: every version gets the record its bytes give, the file
// passes Check, and a second Upgrade writes nothing.
func TestUpgradeSchema3Fixture(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "index.db")
	copyFile(t, "testdata/schema3.db", path)
	writeBlobs(t, dir, schema3Fixture())
	if _, err := index.Open(path, index.Options{}); !errors.Is(err, index.ErrSchemaOld) {
		t.Fatalf("index.Open before Upgrade = %v, want ErrSchemaOld", err)
	}
	from, err := Upgrade(path)
	if err != nil || from != 3 {
		t.Fatalf("Upgrade = %d, %v; want 3, nil", from, err)
	}
	checkInfoUpgraded(t, path, schema3Fixture())

	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mi, _ := db.Info(index.MustRef("broken", "0.0.1"))
	if !strings.Contains(mi.Refused, "byte 8") {
		t.Errorf("the refusal %q does not say where", mi.Refused)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	if from, err := Upgrade(path); err != nil || from != index.SchemaVersion {
		t.Fatalf("second Upgrade = %d, %v", from, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Upgrade of a current file changed it")
	}
}

// BenchmarkUpgradeInfo10k measures the migration to the info schema of a
// store of 10,000 versions, each with a distinct module of 1 to 64 KiB
// (issue 9: under a minute).
func BenchmarkUpgradeInfo10k(b *testing.B) {
	const n = 10000
	var entries []schema3Entry
	for i := range n {
		entries = append(entries, schema3Entry{Name: fmt.Sprintf("m%d", i%100), Version: fmt.Sprintf("1.%d.0", i/100),
			Bytes: testutil.Wasm(fmt.Sprint(i), 1024+(i*613)%(63<<10)), Created: fixtureTime})
	}
	template := b.TempDir()
	writeSchema3(b, filepath.Join(template, "index.db"), entries)
	writeBlobs(b, template, entries)
	src, err := os.ReadFile(filepath.Join(template, "index.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := os.WriteFile(filepath.Join(template, "index.db"), src, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if from, err := Upgrade(filepath.Join(template, "index.db")); err != nil || from != 3 {
			b.Fatalf("Upgrade = %d, %v", from, err)
		}
	}
	b.ReportMetric(float64(n), "versions/op")
}
