package index

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
)

// TestGroupCommit: many Adds at once, with fsync on, some of them
// refused (a version that exists with other bytes) and some repeats of
// the same bytes. Every Add acknowledged is in the file after a reopen,
// every refusal is ErrConflict and changed nothing, and the Adds shared
// commits (fewer transactions than Adds).
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, db, "taken", "1.0.0", "first")

	const workers, each = 32, 8
	type result struct {
		rec     Record
		created bool
		err     error
		want    string // the content Add was given
	}
	results := make([][]result, workers)
	var wg sync.WaitGroup
	before := db.group.commits.Load()
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				name, version, content := fmt.Sprintf("m%d", w), fmt.Sprintf("1.0.%d", i), fmt.Sprintf("w%d-%d", w, i)
				switch i % 4 {
				case 1:
					// A conflict inside the group: refused, alone.
					name, version, content = "taken", "1.0.0", fmt.Sprintf("other-%d-%d", w, i)
				case 2:
					// The same version and bytes from every worker:
					// one creates it, the others find it.
					name, version, content = "shared", fmt.Sprintf("2.0.%d", i), "same"
				}
				rec, created, err := db.Add(mustEntry(Record{Name: name, Version: version, Digest: dg(content), Size: int64(len(content))}))
				results[w] = append(results[w], result{rec, created, err, content})
			}
		})
	}
	wg.Wait()
	commits := db.group.commits.Load() - before

	createdShared := map[string]int{}
	for w, rs := range results {
		for i, r := range rs {
			switch i % 4 {
			case 1:
				if !errors.Is(r.err, errdefs.ErrConflict) {
					t.Errorf("worker %d add %d: conflicting bytes: %v, want ErrConflict", w, i, r.err)
				}
			case 2:
				if r.err != nil || r.rec.Digest != dg("same") {
					t.Errorf("worker %d add %d: same bytes again: %+v, %v", w, i, r.rec, r.err)
				}
				if r.created {
					createdShared[r.rec.Version]++
				}
			default:
				if r.err != nil || !r.created || r.rec.Digest != dg(r.want) {
					t.Errorf("worker %d add %d: %+v created=%v, %v", w, i, r.rec, r.created, r.err)
				}
			}
		}
	}
	for v, n := range createdShared {
		if n != 1 {
			t.Errorf("shared@%s created %d times, want once", v, n)
		}
	}
	t.Logf("%d Adds in %d commits", workers*each, commits)
	if commits >= workers*each {
		t.Errorf("%d Adds took %d commits: none was shared", workers*each, commits)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: what was acknowledged is there, the refused bytes are not.
	db = openAt(t, path)
	if rec, err := db.Resolve(MustQuery("taken", "1.0.0")); err != nil || rec.Digest != dg("first") {
		t.Fatalf("taken@1.0.0 after the conflicts = %+v, %v", rec, err)
	}
	for w, rs := range results {
		for i, r := range rs {
			if r.err != nil {
				continue
			}
			got, err := db.Resolve(MustQuery(r.rec.Name, r.rec.Version))
			if err != nil || got.Digest != dg(r.want) {
				t.Errorf("worker %d add %d acknowledged, after reopen: %+v, %v", w, i, got, err)
			}
		}
	}
}

// BenchmarkAddConcurrent: 8 writers adding with fsync on; with the group
// commit they share fsyncs, without it each Add commits alone.
func BenchmarkAddConcurrent(b *testing.B) {
	b.Run("group", func(b *testing.B) { benchAddConcurrent(b, Options{}) })
	b.Run("solo", func(b *testing.B) { benchAddConcurrent(b, Options{NoGroupCommit: true}) })
}

func benchAddConcurrent(b *testing.B, opts Options) {
	db, err := Open(filepath.Join(b.TempDir(), "index.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	n := 0
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			v := fmt.Sprintf("1.0.%d", n)
			mu.Unlock()
			if _, _, err := db.Add(mustEntry(Record{Name: "bench", Version: v, Digest: dg(v), Size: 1})); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
