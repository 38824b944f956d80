package migrations

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite testdata/schema1.db and testdata/legacy/ from the generators")

func TestMain(m *testing.M) {
	// The second process of TestUpgradeLockedBySecondProcess: it opens the
	// index and holds the file.
	testutil.HoldLockIfAsked(func(path string) (io.Closer, error) {
		return index.Open(path, index.Options{})
	})
	os.Exit(m.Run())
}

// schema1Entry is one record of a schema-1 file.
type schema1Entry struct {
	Name string
	Val  schema1Value
}

var fixtureTime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func d(s string) digest.Digest { return digest.FromString(s) }

// schema1Fixture is what testdata/schema1.db holds: several modules,
// pre-releases, a name with pre-releases only, a digest shared by two
// names, and one version spelled twice with the same bytes (schema 1
// allowed that; schema 2 merges them).
func schema1Fixture() []schema1Entry {
	e := func(name, version, content string, size int64, minutes int) schema1Entry {
		return schema1Entry{name, schema1Value{Version: version, Digest: d(content), Size: size, Created: fixtureTime.Add(time.Duration(minutes) * time.Minute)}}
	}
	return []schema1Entry{
		e("math", "v0.1.0", "math 0.1", 100, 0),
		e("math", "0.2.0", "math 0.2", 110, 1),
		e("math", "v1.0.0", "math 1.0", 120, 2),
		e("math", "1.1.0-beta.1", "math 1.1b1", 130, 3),
		e("math", "1.1.0-rc.1", "math 1.1rc1", 140, 4),
		e("math", "v1.1.0+build.5", "math 1.1", 150, 5),
		e("math", "2.0.0-alpha", "math 2a", 160, 6),
		e("tiny", "v0.0.1", string(testutil.TinyWasm), 8, 7),
		e("copy", "3.0.0", "math 1.0", 120, 8), // same bytes as math v1.0.0
		e("nightly", "0.1.0-alpha", "n a", 3, 9),
		e("nightly", "0.1.0-alpha.2", "n a2", 4, 10),
		e("dup", "1.0.0", "dup", 3, 11),
		e("dup", "v1.0.0", "dup", 3, 12),
	}
}

// writeSchema1 writes a schema-1 file at path.
func writeSchema1(t *testing.T, path string, entries []schema1Entry) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := index.WriteSchemaTx(tx, 1); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(schema1Modules)
		if err != nil {
			return err
		}
		for _, e := range entries {
			v, err := json.Marshal(e.Val)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(e.Name+"@"+e.Val.Version), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// dumpBolt lists every bucket and key of a bbolt file, for comparing two
// files by content rather than by page layout.
func dumpBolt(t *testing.T, path string) map[string]string {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	out := map[string]string{}
	var walk func(prefix string, b *bolt.Bucket) error
	walk = func(prefix string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			p := prefix + "/" + fmt.Sprintf("%q", k)
			if v == nil {
				out[p] = "<bucket>"
				return walk(p, b.Bucket(k))
			}
			out[p] = fmt.Sprintf("%q", v)
			return nil
		})
	}
	err = bdb.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			p := fmt.Sprintf("%q", name)
			out[p] = "<bucket>"
			return walk(p, b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGenerateFixture writes the committed fixtures with -update; without
// it, it checks that they hold exactly what the generators write.
func TestGenerateFixture(t *testing.T) {
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		os.Remove("testdata/schema1.db")
		writeSchema1(t, "testdata/schema1.db", schema1Fixture())
		if err := os.RemoveAll("testdata/legacy"); err != nil {
			t.Fatal(err)
		}
		writeLegacyFixture(t, "testdata/legacy")
		t.Log("fixtures rewritten")
	}
	fresh := filepath.Join(t.TempDir(), "schema1.db")
	writeSchema1(t, fresh, schema1Fixture())
	if got, want := dumpBolt(t, "testdata/schema1.db"), dumpBolt(t, fresh); !maps.Equal(got, want) {
		t.Fatalf("testdata/schema1.db differs from the generator:\n got %v\nwant %v\n(rerun with -update)", got, want)
	}
	freshLegacy := filepath.Join(t.TempDir(), "legacy")
	writeLegacyFixture(t, freshLegacy)
	if got, want := readTree(t, "testdata/legacy"), readTree(t, freshLegacy); !maps.Equal(got, want) {
		t.Fatalf("testdata/legacy differs from the generator: got %d files, want %d (rerun with -update)", len(got), len(want))
	}
}

func readTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// checkSchema1Upgraded checks that every schema-1 record resolves in the
// upgraded file, with its digest, size and created time, that the file
// passes index.Check, and that the flat bucket is gone.
func checkSchema1Upgraded(t *testing.T, path string, entries []schema1Entry) {
	t.Helper()
	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatalf("index.Open after Upgrade: %v", err)
	}
	defer db.Close()
	distinct := map[string]bool{}
	for _, e := range entries {
		rec, err := db.Resolve(index.MustQuery(e.Name, e.Val.Version))
		if err != nil {
			t.Errorf("%s@%s: %v", e.Name, e.Val.Version, err)
			continue
		}
		v1, _ := index.ParseVersion(e.Val.Version)
		v2, _ := index.ParseVersion(rec.Version)
		if !v1.Equal(v2) || rec.Digest != e.Val.Digest || rec.Size != e.Val.Size {
			t.Errorf("%s@%s resolved to %+v, want %+v", e.Name, e.Val.Version, rec, e.Val)
		}
		distinct[e.Name+"@"+v1.String()] = true
		if rec.Version == e.Val.Version && !rec.Created.Equal(e.Val.Created) {
			t.Errorf("%s@%s created %v, want %v", e.Name, e.Val.Version, rec.Created, e.Val.Created)
		}
	}
	s, err := db.Stats()
	if err != nil || s.Versions != len(distinct) {
		t.Errorf("Stats = %+v, %v; want %d versions", s, err, len(distinct))
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check after upgrade: %v", err)
	}
	for k := range dumpBoltOpen(t, db) {
		if strings.HasPrefix(k, fmt.Sprintf("%q", schema1Modules)) {
			t.Errorf("schema-1 bucket left behind: %s", k)
			break
		}
	}
}

// dumpBoltOpen dumps the file of an open DB through a snapshot.
func dumpBoltOpen(t *testing.T, db *index.DB) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if _, _, err := db.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return dumpBolt(t, p)
}

func TestUpgradeFixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	copyFile(t, "testdata/schema1.db", path)
	if _, err := index.Open(path, index.Options{}); !errors.Is(err, index.ErrSchemaOld) {
		t.Fatalf("index.Open before Upgrade = %v, want ErrSchemaOld", err)
	}
	from, err := Upgrade(path)
	if err != nil || from != 1 {
		t.Fatalf("Upgrade = %d, %v; want 1, nil", from, err)
	}
	checkSchema1Upgraded(t, path, schema1Fixture())

	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"math": "v1.1.0+build.5", "tiny": "v0.0.1", "copy": "3.0.0", "nightly": "0.1.0-alpha.2", "dup": "1.0.0"} {
		if rec, err := db.Resolve(index.MustQuery(name, "latest")); err != nil || rec.Version != want {
			t.Errorf("latest %s = %q, %v; want %q", name, rec.Version, err, want)
		}
	}
	if n, _ := db.Refs(d("math 1.0")); n != 2 {
		t.Errorf("shared digest has %d refs, want 2", n)
	}
	db.Close()

	// At the current schema Upgrade writes nothing.
	before, _ := os.ReadFile(path)
	from, err = Upgrade(path)
	if err != nil || from != index.SchemaVersion {
		t.Fatalf("second Upgrade = %d, %v", from, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("Upgrade of a current file changed it")
	}
}

// stepTest is the test of one step, keyed by the version it reaches:
// setup writes a file at the schema before it, check looks at the
// upgraded file.
type stepTest struct {
	setup func(t *testing.T, path string)
	check func(t *testing.T, path string)
}

var stepTests = map[int]stepTest{
	2: {
		setup: func(t *testing.T, path string) { writeSchema1(t, path, schema1Fixture()) },
		check: func(t *testing.T, path string) { checkSchema1Upgraded(t, path, schema1Fixture()) },
	},
	3: {
		setup: writeSchema2,
		check: checkSchema2Upgraded,
	},
	4: {
		setup: func(t *testing.T, path string) {
			writeSchema3(t, path, schema3Fixture())
			writeBlobs(t, filepath.Dir(path), schema3Fixture())
		},
		check: func(t *testing.T, path string) { checkInfoUpgraded(t, path, schema3Fixture()) },
	},
	5: {
		setup: func(t *testing.T, path string) {
			writeSchema4(t, path, schema3Fixture(), "tiny")
			writeBlobs(t, filepath.Dir(path), schema3Fixture())
		},
		check: func(t *testing.T, path string) {
			// The version whose blob is missing keeps the record schema
			// 4 held (moved, not parsed); "tiny", which had none, is
			// parsed; the record of a version not stored is dropped.
			entries := schema3Fixture()
			for i := range entries {
				entries[i].Missing = false
			}
			checkInfoUpgraded(t, path, entries)
		},
	},
}

// schema2Records are the records of the schema-2 fixture.
func schema2Records() []index.Record {
	return []index.Record{
		{Name: "math", Version: "1.0.0", Digest: d("math 1.0"), Size: 8, Created: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		{Name: "math", Version: "v1.1.0", Digest: d("math 1.1"), Size: 9, Created: time.Date(2024, 2, 2, 3, 4, 5, 0, time.UTC)},
		{Name: "tiny", Version: "0.0.1-rc.1", Digest: d("math 1.0"), Size: 8, Created: time.Date(2024, 3, 2, 3, 4, 5, 0, time.UTC)},
	}
}

// writeSchema2 writes a schema-2 file: schema 2's buckets and records,
// no tombstones bucket.
func writeSchema2(t *testing.T, path string) {
	t.Helper()
	bdb, err := index.OpenBolt(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.Update(func(tx *bolt.Tx) error {
		if err := index.CreateBucketsTx(tx); err != nil {
			return err
		}
		for _, rec := range schema2Records() {
			e, err := index.ParseRecord(rec)
			if err != nil {
				return err
			}
			if _, _, err := index.PutTx(tx, e); err != nil {
				return err
			}
		}
		return index.WriteSchemaTx(tx, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSchema2Upgraded: the records are kept as they were (created times
// too), there are no tombstones, and removing a version now keeps one.
func checkSchema2Upgraded(t *testing.T, path string) {
	t.Helper()
	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	for _, want := range schema2Records() {
		got, err := db.Resolve(index.MustQuery(want.Name, want.Version))
		if err != nil || got != want {
			t.Errorf("after the upgrade %s@%s = %+v, %v; want %+v", want.Name, want.Version, got, err, want)
		}
	}
	if ts, err := db.Tombstones(); err != nil || len(ts) != 0 {
		t.Fatalf("Tombstones after the upgrade = %+v, %v; want none", ts, err)
	}
	if _, _, err := db.Remove(index.MustRef("math", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	if ts, err := db.Tombstones(); err != nil || len(ts) != 1 {
		t.Fatalf("Tombstones after a Remove = %+v, %v; want one", ts, err)
	}
}

func TestStepsHaveTests(t *testing.T) {
	steps := Steps()
	if len(steps) != len(stepTests) {
		t.Fatalf("%d migration steps, %d step tests: every step needs a test", len(steps), len(stepTests))
	}
	if last := steps[len(steps)-1].Version; last != index.SchemaVersion {
		t.Fatalf("last step reaches schema %d, index.SchemaVersion is %d", last, index.SchemaVersion)
	}
	for i, s := range steps {
		if _, ok := stepTests[s.Version]; !ok {
			t.Errorf("step %d (%s) has no test", s.Version, s.Name)
		}
		if i > 0 && s.Version != steps[i-1].Version+1 {
			t.Errorf("step %d follows step %d", s.Version, steps[i-1].Version)
		}
		if s.Name == "" || (s.Apply == nil) == (s.ApplyStore == nil) {
			t.Errorf("step %d lacks a name or has not exactly one function", s.Version)
		}
	}
}

func TestSteps(t *testing.T) {
	for _, s := range Steps() {
		t.Run(fmt.Sprint(s.Version), func(t *testing.T) {
			st := stepTests[s.Version]
			path := filepath.Join(t.TempDir(), "index.db")
			st.setup(t, path)
			from, err := Upgrade(path)
			if err != nil || from != s.Version-1 {
				t.Fatalf("Upgrade = %d, %v; want %d", from, err, s.Version-1)
			}
			st.check(t, path)
		})
	}
}

func TestUpgradeSchema1Empty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	writeSchema1(t, path, nil)
	if from, err := Upgrade(path); err != nil || from != 1 {
		t.Fatalf("Upgrade = %d, %v", from, err)
	}
	db, err := index.Open(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if mods, err := db.List(index.Name{}); err != nil || len(mods) != 0 {
		t.Fatalf("List = %+v, %v", mods, err)
	}
}

// TestUpgradeRefusesAndRollsBack: records schema 2 cannot hold fail the
// upgrade, all named, and the file stays at schema 1 as it was.
func TestUpgradeRefusesAndRollsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	entries := append(schema1Fixture(),
		schema1Entry{"clash", schema1Value{Version: "1.0.0", Digest: d("a"), Size: 1, Created: fixtureTime}},
		schema1Entry{"clash", schema1Value{Version: "v1.0.0+b", Digest: d("b"), Size: 1, Created: fixtureTime}},
		schema1Entry{"short", schema1Value{Version: "1.2", Digest: d("c"), Size: 1, Created: fixtureTime}},
		schema1Entry{"Upper", schema1Value{Version: "1.0.0", Digest: d("e"), Size: 1, Created: fixtureTime}},
	)
	writeSchema1(t, path, entries)
	before := dumpBolt(t, path)
	_, err := Upgrade(path)
	if err == nil {
		t.Fatal("Upgrade carried over records schema 2 cannot hold")
	}
	for _, want := range []string{"clash@v1.0.0+b", "short", `"1.2"`, `"Upper"`, "rebuild"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("error %v does not wrap ErrConflict", err)
	}
	if after := dumpBolt(t, path); !maps.Equal(before, after) {
		t.Fatal("a failed upgrade changed the file")
	}
	if _, err := index.Open(path, index.Options{}); !errors.Is(err, index.ErrSchemaOld) {
		t.Fatalf("index.Open after a failed upgrade = %v, want ErrSchemaOld", err)
	}
}

func TestUpgradeNothingToDo(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if from, err := Upgrade(missing); err != nil || from != 0 {
		t.Fatalf("Upgrade(missing) = %d, %v", from, err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Upgrade created %s", missing)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if from, err := Upgrade(empty); err != nil || from != 0 {
		t.Fatalf("Upgrade(empty) = %d, %v", from, err)
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Fatalf("Upgrade wrote into an empty file")
	}
	current := filepath.Join(dir, "current.db")
	db, err := index.Open(current, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if from, err := Upgrade(current); err != nil || from != index.SchemaVersion {
		t.Fatalf("Upgrade(current) = %d, %v", from, err)
	}
}

func TestUpgradeRefusesNewerAndForeign(t *testing.T) {
	dir := t.TempDir()
	newer := filepath.Join(dir, "newer.db")
	bdb, err := index.OpenBolt(newer, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { return index.WriteSchemaTx(tx, index.SchemaVersion+1) }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	from, err := Upgrade(newer)
	if !errors.Is(err, index.ErrSchemaTooNew) || from != index.SchemaVersion+1 ||
		!strings.Contains(err.Error(), fmt.Sprintf("schema %d", index.SchemaVersion+1)) || !strings.Contains(err.Error(), fmt.Sprintf("schema %d", index.SchemaVersion)) {
		t.Fatalf("Upgrade(newer) = %d, %v; want ErrSchemaTooNew naming both versions", from, err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	bdb, err = index.OpenBolt(foreign, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Upgrade(foreign); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Upgrade(foreign) = %v, want ErrInvalid", err)
	}
}

func TestApplyChecksTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	bdb, err := index.OpenBolt(path, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	ran := false
	mark := func(*bolt.Tx) error { ran = true; return nil }
	// From schema 0 there is no step 1.
	err = bdb.Update(func(tx *bolt.Tx) error {
		return apply(tx, "", 0, []Step{{Version: index.SchemaVersion, Name: "x", Apply: mark}})
	})
	if err == nil || ran {
		t.Fatalf("apply over a gap = %v (ran %v), want an error before any step", err, ran)
	}
	// Steps that stop short of SchemaVersion.
	err = bdb.Update(func(tx *bolt.Tx) error { return apply(tx, "", 0, []Step{{Version: 1, Name: "x", Apply: mark}}) })
	if err == nil || ran {
		t.Fatalf("apply short of SchemaVersion = %v (ran %v), want an error", err, ran)
	}
	// A failing step fails the whole with its number and name.
	boom := errors.New("boom")
	err = bdb.Update(func(tx *bolt.Tx) error {
		return apply(tx, "", index.SchemaVersion-1, []Step{{Version: index.SchemaVersion, Name: "named step", Apply: func(*bolt.Tx) error { return boom }}})
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "named step") {
		t.Fatalf("apply with a failing step = %v", err)
	}
}

func TestUpgradeLockedBySecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	writeSchema1(t, path, schema1Fixture())
	if _, err := Upgrade(path); err != nil {
		t.Fatal(err)
	}
	release := testutil.StartLockHolder(t, path)
	for _, up := range []func() (int, error){
		func() (int, error) { return UpgradeWith(path, index.Options{Timeout: 100 * time.Millisecond}) },
		func() (int, error) { return Upgrade(path) },
	} {
		start := time.Now()
		_, err := up()
		if !errors.Is(err, index.ErrLocked) || !strings.Contains(err.Error(), "index "+path+" is in use by another process") {
			t.Fatalf("Upgrade of a held file = %v, want ErrLocked naming the path", err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("Upgrade of a held file took %v", took)
		}
	}
	release()
	if from, err := Upgrade(path); err != nil || from != index.SchemaVersion {
		t.Fatalf("Upgrade after release = %d, %v", from, err)
	}
}
