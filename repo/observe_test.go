package repo_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

// recorder is an Observer that writes each change as a line.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) VersionAdded(rec index.Record)   { r.add("uploaded " + rec.Name + "@" + rec.Version) }
func (r *recorder) VersionRemoved(rec index.Record) { r.add("removed " + rec.Name + "@" + rec.Version) }
func (r *recorder) LatestChanged(name string, rec index.Record, ok bool) {
	if !ok {
		r.add("latest " + name + " none")
		return
	}
	r.add("latest " + name + "@" + rec.Version)
}

// take returns the lines recorded since the last call.
func (r *recorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.lines, "; ")
	r.lines = nil
	return s
}

// TestObserverLatest: "latest" is told exactly when what a blank request
// resolves to changes, after the upload or removal that changed it.
func TestObserverLatest(t *testing.T) {
	obs := &recorder{}
	r, _ := openRepo(t, repo.Options{Observer: obs})
	ctx := context.Background()
	up := func(v string, tag string) {
		t.Helper()
		if _, err := r.Upload(ctx, index.MustRef("math", v), bytes.NewReader(testutil.Wasm(tag, 64)), ""); err != nil {
			t.Fatal(err)
		}
	}
	rm := func(v string) {
		t.Helper()
		if _, err := r.Remove(ctx, index.MustRef("math", v)); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		do   func()
		want string
	}{
		{func() { up("v1.0.0-rc.1", "a") }, "uploaded math@v1.0.0-rc.1; latest math@v1.0.0-rc.1"}, // pre-releases only: the highest
		{func() { up("v1.0.0", "b") }, "uploaded math@v1.0.0; latest math@v1.0.0"},
		{func() { up("v2.0.0-beta", "c") }, "uploaded math@v2.0.0-beta"},           // a pre-release never beats a release
		{func() { up("v1.1.0", "d") }, "uploaded math@v1.1.0; latest math@v1.1.0"}, // higher
		{func() { up("v0.9.0", "e") }, "uploaded math@v0.9.0"},                     // lower: no latest
		{func() { up("v1.1.0", "d") }, ""},                                         // the same again: no change at all
		{func() { rm("v1.1.0") }, "removed math@v1.1.0; latest math@v1.0.0"},       // rm of the latest
		{func() { rm("v0.9.0") }, "removed math@v0.9.0"},
		{func() { rm("v1.0.0") }, "removed math@v1.0.0; latest math@v2.0.0-beta"},
		{func() { rm("v2.0.0-beta") }, "removed math@v2.0.0-beta; latest math@v1.0.0-rc.1"},
		{func() { rm("v1.0.0-rc.1") }, "removed math@v1.0.0-rc.1; latest math none"},
	}
	for i, s := range steps {
		s.do()
		if got := obs.take(); got != s.want {
			t.Fatalf("step %d: told %q, want %q", i, got, s.want)
		}
	}
	// A failed upload tells nothing.
	if _, err := r.Upload(ctx, index.MustRef("math", "v1.0.0"), bytes.NewReader([]byte("not wasm")), ""); err == nil {
		t.Fatal("a non-wasm upload succeeded")
	}
	if got := obs.take(); got != "" {
		t.Fatalf("a failed upload told %q", got)
	}
}

// TestObserverConcurrent: concurrent uploads of one name tell each
// latest change once, in an order consistent with the versions.
func TestObserverConcurrent(t *testing.T) {
	obs := &recorder{}
	r, _ := openRepo(t, repo.Options{Observer: obs})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			v := fmt.Sprintf("v1.%d.0", i)
			if _, err := r.Upload(context.Background(), index.MustRef("m", v), bytes.NewReader(testutil.Wasm(v, 64)), ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var latest []string
	lines := strings.Split(obs.take(), "; ")
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "latest m@"); ok {
			latest = append(latest, v)
			// A latest change follows the upload that made it.
			if i == 0 || lines[i-1] != "uploaded m@"+v {
				t.Errorf("%q does not follow its upload: %v", l, lines)
			}
		}
	}
	if len(latest) == 0 || latest[len(latest)-1] != "v1.19.0" {
		t.Fatalf("latest changes %v do not end at v1.19.0", latest)
	}
	sorted := slices.SortedFunc(slices.Values(latest), func(a, b string) int {
		var x, y int
		fmt.Sscanf(a, "v1.%d.0", &x)
		fmt.Sscanf(b, "v1.%d.0", &y)
		return x - y
	})
	if !slices.Equal(sorted, latest) || len(slices.Compact(slices.Clone(latest))) != len(latest) {
		t.Fatalf("latest changes %v are not rising", latest)
	}
}

// TestObservedUploadsShareCommits: with an observer (as in the daemon),
// concurrent uploads still share index commits: telling the observer
// does not make them commit one after another.
func TestObservedUploadsShareCommits(t *testing.T) {
	obs := &recorder{}
	r, _ := openRepo(t, repo.Options{Observer: obs})
	const n = 16
	for round := range 5 {
		before := repo.IndexAddCommits(r)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ref := index.MustRef(fmt.Sprintf("m%d", i), fmt.Sprintf("1.%d.0", round))
				if _, err := r.Upload(context.Background(), ref, bytes.NewReader(testutil.Wasm(ref.String(), 64<<10)), ""); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		commits := repo.IndexAddCommits(r) - before
		t.Logf("round %d: %d uploads in %d index commits", round, n, commits)
		if got := strings.Count(obs.take(), "uploaded "); got != n {
			t.Fatalf("round %d: %d uploads told, want %d", round, got, n)
		}
		if commits < n {
			return
		}
	}
	t.Error("in 5 rounds of 16 concurrent uploads, none shared an index commit")
}
