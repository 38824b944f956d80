package index

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The 100k fixture: one name with versions v0.0.1 .. v0.0.100000, built
// once per benchmark process (in a few large NoSync transactions) and
// shared by the benchmarks below, so that "latest" and the point lookup
// are measured on the same file in the same run.
const (
	fixtureName     = "big"
	fixtureVersions = 100_000
)

// benchFixture is test-only state shared by benchmarks of one process;
// TestMain closes it.
var benchFixture struct {
	once sync.Once
	dir  string
	db   *DB
	err  error
	// addSeq numbers the versions BenchmarkAdd100k adds.
	addSeq int
}

func fixtureDB(b *testing.B) *DB {
	b.Helper()
	f := &benchFixture
	f.once.Do(func() {
		f.dir, f.err = os.MkdirTemp("", "gpmd-index-bench-")
		if f.err != nil {
			return
		}
		f.db, f.err = Open(filepath.Join(f.dir, "index.db"), Options{NoSync: true})
		if f.err != nil {
			return
		}
		start := time.Now()
		f.err = loadVersions(f.db, fixtureName, fixtureVersions)
		if f.err == nil {
			fmt.Fprintf(os.Stderr, "index bench fixture: %d versions in %v\n", fixtureVersions, time.Since(start).Round(time.Millisecond))
		}
	})
	if f.err != nil {
		b.Fatal(f.err)
	}
	return f.db
}

func closeBenchFixture() {
	f := &benchFixture
	if f.db != nil {
		f.db.Close()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}

// loadVersions adds versions 0.0.1 .. 0.0.n of name, 10,000 per
// transaction.
func loadVersions(db *DB, name string, n int) error {
	const batch = 10_000
	created := time.Now()
	for lo := 1; lo <= n; lo += batch {
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			for i := lo; i < lo+batch && i <= n; i++ {
				v := fmt.Sprintf("v0.0.%d", i)
				if _, _, err := PutTx(tx, mustEntry(Record{Name: name, Version: v, Digest: dg(v), Size: int64(i), Created: created})); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var latestWant = fmt.Sprintf("v0.0.%d", fixtureVersions)

func resolveLatest(b *testing.B, db *DB) {
	rec, err := db.Resolve(fixtureName, "latest")
	if err != nil || rec.Version != latestWant {
		b.Fatalf("latest = %+v, %v", rec, err)
	}
}

// pointLookupKey is a record in the middle of the 100k bucket.
var pointLookupKey = func() []byte {
	v, err := ParseVersion("0.0.50000")
	if err != nil {
		panic(err)
	}
	return versionKey(v.sv)
}()

// boltPointLookup is the baseline: one read transaction (db.View) doing a
// single Get of a record's key in the big name's bucket, the value copied
// out as Resolve must do.
func boltPointLookup(b *testing.B, db *DB) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketVersions).Bucket([]byte(fixtureName)).Get(pointLookupKey)
		out = append(out[:0], v...)
		return nil
	})
	if err != nil || len(out) == 0 {
		b.Fatalf("point lookup: %d bytes, %v", len(out), err)
	}
}

// boltMetaLookup is a stricter baseline: a single Get in a small
// top-level bucket (the schema key), no nested bucket on the way.
func boltMetaLookup(b *testing.B, db *DB) {
	var out []byte
	err := db.bolt.View(func(tx *bolt.Tx) error {
		out = append(out[:0], tx.Bucket(bucketMeta).Get(keySchema)...)
		return nil
	})
	if err != nil || len(out) != 8 {
		b.Fatalf("meta lookup: %d bytes, %v", len(out), err)
	}
}

func BenchmarkResolveLatest100k(b *testing.B) {
	db := fixtureDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resolveLatest(b, db)
	}
}

func BenchmarkBoltPointLookup(b *testing.B) {
	db := fixtureDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		boltPointLookup(b, db)
	}
}

func BenchmarkBoltMetaLookup(b *testing.B) {
	db := fixtureDB(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		boltMetaLookup(b, db)
	}
}

// BenchmarkResolveLatestRatio runs all three in one benchmark and reports
// latest/lookup (the requirement: at most 3) and, for information,
// latest/meta-lookup against the stricter top-level Get.
func BenchmarkResolveLatestRatio(b *testing.B) {
	db := fixtureDB(b)
	b.ResetTimer()
	// Interleave in blocks so that drifts in machine load hit both.
	const block = 256
	var tLatest, tLookup, tMeta time.Duration
	n := 0
	for n < b.N {
		k := min(block, b.N-n)
		t0 := time.Now()
		for i := 0; i < k; i++ {
			resolveLatest(b, db)
		}
		t1 := time.Now()
		for i := 0; i < k; i++ {
			boltPointLookup(b, db)
		}
		t2 := time.Now()
		for i := 0; i < k; i++ {
			boltMetaLookup(b, db)
		}
		tLatest += t1.Sub(t0)
		tLookup += t2.Sub(t1)
		tMeta += time.Since(t2)
		n += k
	}
	perOp := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	latest, lookup, meta := perOp(tLatest), perOp(tLookup), perOp(tMeta)
	b.ReportMetric(latest, "latest-ns/op")
	b.ReportMetric(lookup, "lookup-ns/op")
	b.ReportMetric(latest/lookup, "latest/lookup")
	b.ReportMetric(latest/meta, "latest/meta-lookup")
}

// BenchmarkResolveConstraint100k is for information: a constraint walks
// from the top down to its first match ("~0.0.99999" matches the first
// key; "<0.0.100" walks nearly every version).
func BenchmarkResolveConstraint100k(b *testing.B) {
	db := fixtureDB(b)
	for _, q := range []string{"~0.0.99999", "<0.0.100"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				if _, err := db.Resolve(fixtureName, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAdd100k adds new versions to another name of the fixture file
// (leaving "big" as it is for the benchmarks above).
func BenchmarkAdd100k(b *testing.B) {
	db := fixtureDB(b)
	for b.Loop() {
		benchFixture.addSeq++
		v := fmt.Sprintf("1.0.%d", benchFixture.addSeq)
		if _, created, err := db.Add(mustEntry(Record{Name: "added", Version: v, Digest: dg(v), Size: 1})); err != nil || !created {
			b.Fatal(created, err)
		}
	}
}
