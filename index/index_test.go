package index

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// openTest opens a fresh index in t.TempDir and, at cleanup, checks the
// file (bbolt's tx.Check and the refs invariant) before closing it.
func openTest(t *testing.T) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "index.db"))
}

func openAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Check(); err != nil {
			t.Errorf("invariant: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return db
}

func dg(content string) digest.Digest { return digest.FromString(content) }

func mustAdd(t testing.TB, db *DB, name, version, content string) Record {
	t.Helper()
	rec, created, err := db.Add(mustEntry(Record{Name: name, Version: version, Digest: dg(content), Size: int64(len(content))}))
	if err != nil {
		t.Fatalf("Add %s@%s: %v", name, version, err)
	}
	if !created {
		t.Fatalf("Add %s@%s: created=false on a new version", name, version)
	}
	return rec
}

func sameRecord(a, b Record) bool {
	return a.Name == b.Name && a.Version == b.Version && a.Digest == b.Digest && a.Size == b.Size && a.Created.Equal(b.Created)
}

func TestResolve(t *testing.T) {
	db := openTest(t)
	for _, v := range []string{"0.9.0", "v1.0.0", "1.1.0", "v1.2.0", "1.2.5", "1.10.0-rc.1", "2.0.0-alpha", "2.0.0-beta.2", "2.0.0-beta.11"} {
		mustAdd(t, db, "math", v, "math "+v)
	}
	for _, v := range []string{"0.1.0-alpha", "0.1.0-alpha.1", "0.1.0-beta", "0.0.9-rc.1"} {
		mustAdd(t, db, "pre", v, "pre "+v)
	}
	mustAdd(t, db, "tiny", "v0.0.1+build.3", "tiny")

	tests := []struct {
		name, query string
		want        string // version as uploaded; "" when an error is expected
		err         error
	}{
		// latest: the highest release, even below higher pre-releases.
		{"math", "", "1.2.5", nil},
		{"math", "latest", "1.2.5", nil},
		{"math", "Latest", "1.2.5", nil},
		// A name with pre-releases only: the highest pre-release.
		{"pre", "", "0.1.0-beta", nil},
		{"pre", "latest", "0.1.0-beta", nil},
		{"tiny", "", "v0.0.1+build.3", nil},
		// Exact versions by semver equality; the answer is as uploaded.
		{"math", "1.2.0", "v1.2.0", nil},
		{"math", "v1.2.0", "v1.2.0", nil},
		{"math", "v1.1.0", "1.1.0", nil},
		{"math", "1.0.0+other", "v1.0.0", nil},
		{"math", "2.0.0-beta.2", "2.0.0-beta.2", nil},
		{"math", "v2.0.0-beta.11", "2.0.0-beta.11", nil},
		{"tiny", "0.0.1", "v0.0.1+build.3", nil},
		{"pre", "0.1.0-alpha.1", "0.1.0-alpha.1", nil},
		// Constraints: the highest version satisfying them.
		{"math", "^1.2", "1.2.5", nil},
		{"math", "^1", "1.2.5", nil},
		{"math", "~1.2.3", "1.2.5", nil},
		{"math", "~1.1", "1.1.0", nil},
		{"math", "^0.9", "0.9.0", nil},
		{"math", ">=1.0.0 <2.0.0", "1.2.5", nil},
		{"math", ">=1 <2", "1.2.5", nil},
		{"math", "<1.2", "1.1.0", nil},
		{"math", "1.x", "1.2.5", nil},
		{"math", "*", "1.2.5", nil},
		{"math", "=1.0.0", "v1.0.0", nil},
		{"math", "1.0.0 - 1.1.9", "1.1.0", nil},
		{"math", "<1.0.0 || >=1.2.0 <1.2.5", "v1.2.0", nil},
		// Constraints naming a pre-release reach pre-releases; the answer
		// is the higher of the best release and the best pre-release.
		{"math", ">=2.0.0-0", "2.0.0-beta.11", nil},
		{"math", ">=1.0.0-0 <1.99.0", "1.10.0-rc.1", nil},
		{"math", "~2.0.0-alpha", "2.0.0-beta.11", nil},
		{"math", ">=1.2.5-0 <1.3.0", "1.2.5", nil},
		{"pre", ">=0.1.0-alpha", "0.1.0-beta", nil},
		{"pre", "<0.1.0-alpha.1 >=0.1.0-0", "0.1.0-alpha", nil},
		// Not found.
		{"math", "3.0.0", "", errdefs.ErrNotFound},
		{"math", "1.2.4", "", errdefs.ErrNotFound},
		{"math", "^3", "", errdefs.ErrNotFound},
		{"math", ">5", "", errdefs.ErrNotFound},
		{"pre", "^0.1", "", errdefs.ErrNotFound}, // releases only, and there are none
		{"pre", "0.1.0", "", errdefs.ErrNotFound},
		{"nope", "", "", errdefs.ErrNotFound},
		{"nope", "latest", "", errdefs.ErrNotFound},
		{"nope", "1.0.0", "", errdefs.ErrNotFound},
		{"nope", "^1", "", errdefs.ErrNotFound},
		// Neither a version nor a constraint.
		{"math", "foo", "", errdefs.ErrInvalid},
		{"math", ">>1", "", errdefs.ErrInvalid},
		{"math", "^", "", errdefs.ErrInvalid},
		{"math", "1.2.3.4", "", errdefs.ErrInvalid},
		{"math", "latestt", "", errdefs.ErrInvalid},
		// Bad names.
		{"Math", "", "", errdefs.ErrInvalid},
		{"", "", "", errdefs.ErrInvalid},
		{"ma.th", "1.0.0", "", errdefs.ErrInvalid},
		{strings.Repeat("m", 65), "", "", errdefs.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name+"@"+tc.query, func(t *testing.T) {
			rec, err := resolve(db, tc.name, tc.query)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Resolve(%q, %q) = %+v, %v; want %v", tc.name, tc.query, rec, err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.name) {
					t.Errorf("error %q does not name %q", err, tc.name)
				}
				if tc.err == errdefs.ErrNotFound && tc.query != "" && !strings.Contains(err.Error(), tc.query) {
					t.Errorf("error %q does not name the query %q", err, tc.query)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q, %q): %v", tc.name, tc.query, err)
			}
			if rec.Name != tc.name || rec.Version != tc.want || rec.Digest != dg(tc.name+" "+tc.want) && tc.name != "tiny" {
				t.Fatalf("Resolve(%q, %q) = %s@%s %s, want %s", tc.name, tc.query, rec.Name, rec.Version, rec.Digest, tc.want)
			}
		})
	}
}

// TestResolveConstraintMatchesBruteForce compares matchConstraint with
// the obvious linear answer over random stores and constraints.
func TestResolveConstraintMatchesBruteForce(t *testing.T) {
	db := openTest(t)
	r := rand.New(rand.NewPCG(3, 4))
	var all []*semver.Version
	seen := map[string]bool{}
	for len(all) < 300 {
		s := fmt.Sprintf("%d.%d.%d", r.IntN(3), r.IntN(4), r.IntN(4))
		if r.IntN(3) == 0 {
			s += []string{"-alpha", "-alpha.1", "-beta", "-rc.1", "-rc.2", "-0"}[r.IntN(6)]
		}
		v := mustParse(t, s)
		if seen[v.String()] {
			continue
		}
		seen[v.String()] = true
		all = append(all, v)
		mustAdd(t, db, "m", s, s)
	}
	constraints := []string{"*", "^1", "^1.2", "~0.3", ">=1.1.0 <2", "<1", ">2.3.3", ">=1.2.0-0", ">=0.0.0-0 <1.0.0",
		"~1.2.0-alpha", "^2.1.0-rc.1", "1.x || 0.1.x", "!=2.3.3", ">=0.1.0-0 <0.1.0", "<0.0.0"}
	for _, cs := range constraints {
		c, err := semver.NewConstraint(cs)
		if err != nil {
			t.Fatal(err)
		}
		var best *semver.Version
		for _, v := range all {
			if c.Check(v) && (best == nil || v.GreaterThan(best)) {
				best = v
			}
		}
		rec, err := resolve(db, "m", cs)
		if best == nil {
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Errorf("Resolve(%q) = %s, %v; want errdefs.ErrNotFound", cs, rec.Version, err)
			}
			continue
		}
		if err != nil || rec.Version != best.Original() {
			t.Errorf("Resolve(%q) = %s, %v; want %s", cs, rec.Version, err, best.Original())
		}
	}
}

func TestAddImmutable(t *testing.T) {
	db := openTest(t)
	first := mustAdd(t, db, "math", "v1.0.0", "one")
	if first.Version != "v1.0.0" || first.Digest != dg("one") || first.Size != 3 || first.Created.IsZero() {
		t.Fatalf("stored %+v", first)
	}
	// The same version with the same digest: success, nothing changes,
	// the stored record comes back (also under another spelling).
	for _, v := range []string{"v1.0.0", "1.0.0", "1.0.0+build7", "v1.0.0+x"} {
		got, created, err := db.Add(mustEntry(Record{Name: "math", Version: v, Digest: dg("one"), Size: 3, Created: time.Unix(1, 0)}))
		if err != nil || created || !sameRecord(got, first) {
			t.Fatalf("Add %s again = %+v, %v, %v; want the stored %+v, false, nil", v, got, created, err, first)
		}
	}
	// The same version with other bytes: errdefs.ErrConflict naming what is stored.
	for _, v := range []string{"v1.0.0", "1.0.0", "1.0.0+build7"} {
		_, created, err := db.Add(mustEntry(Record{Name: "math", Version: v, Digest: dg("two"), Size: 3}))
		if !errors.Is(err, errdefs.ErrConflict) || created {
			t.Fatalf("Add %s with other digest = %v, %v; want errdefs.ErrConflict", v, created, err)
		}
		for _, part := range []string{"math", "v1.0.0", string(dg("one")), string(dg("two"))} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("conflict error %q does not name %s", err, part)
			}
		}
	}
	mods, err := list(db, "math")
	if err != nil || len(mods) != 1 || len(mods[0].Versions) != 1 || !sameRecord(mods[0].Versions[0], first) {
		t.Fatalf("List after re-adds = %+v, %v", mods, err)
	}
	if n, _ := db.Refs(dg("one")); n != 1 {
		t.Fatalf("Refs = %d, want 1", n)
	}
	if n, _ := db.Refs(dg("two")); n != 0 {
		t.Fatalf("Refs of the refused digest = %d, want 0", n)
	}
	// A pre-release of the same core is another version.
	mustAdd(t, db, "math", "1.0.0-rc.1", "two")
}

func TestAddCreatedTime(t *testing.T) {
	db := openTest(t)
	before := time.Now()
	rec := mustAdd(t, db, "a", "1.0.0", "x")
	after := time.Now()
	if rec.Created.Before(before.Truncate(time.Nanosecond)) || rec.Created.After(after) || rec.Created.Location() != time.UTC {
		t.Fatalf("Created = %v, want UTC within [%v, %v]", rec.Created, before, after)
	}
	given := time.Date(2021, 3, 4, 5, 6, 7, 890, time.FixedZone("X", 3600))
	rec2, _, err := db.Add(mustEntry(Record{Name: "a", Version: "2.0.0", Digest: dg("y"), Size: 1, Created: given}))
	if err != nil || !rec2.Created.Equal(given) {
		t.Fatalf("Add with Created = %v, %v; want %v", rec2.Created, err, given)
	}
	got, err := resolve(db, "a", "2.0.0")
	if err != nil || !sameRecord(got, rec2) {
		t.Fatalf("Resolve = %+v, %v; want %+v", got, err, rec2)
	}
}

// TestAddInvalid: what Add refused before entries were typed is refused
// where a record enters: ParseRecord (Add takes only parsed entries).
func TestAddInvalid(t *testing.T) {
	db := openTest(t)
	good := Record{Name: "math", Version: "1.0.0", Digest: dg("x"), Size: 1}
	cases := map[string]func(*Record){
		"bad name":          func(r *Record) { r.Name = "Math" },
		"empty name":        func(r *Record) { r.Name = "" },
		"short version":     func(r *Record) { r.Version = "1.2" },
		"bad version":       func(r *Record) { r.Version = "one" },
		"range as version":  func(r *Record) { r.Version = "^1.0.0" },
		"other algorithm":   func(r *Record) { r.Digest = digest.NewDigestFromEncoded(digest.SHA512, strings.Repeat("a", 128)) },
		"malformed digest":  func(r *Record) { r.Digest = "sha256:XYZ" },
		"upper-case digest": func(r *Record) { r.Digest = digest.Digest(strings.ToUpper(string(dg("x")))) },
		"empty digest":      func(r *Record) { r.Digest = "" },
		"negative size":     func(r *Record) { r.Size = -1 },
	}
	for name, mutate := range cases {
		rec := good
		mutate(&rec)
		if _, err := ParseRecord(rec); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: ParseRecord(%+v) = %v, want errdefs.ErrInvalid", name, rec, err)
		}
	}
	_, err := ParseRecord(Record{Name: "math", Version: "1.2", Digest: dg("x")})
	if err == nil || !strings.Contains(err.Error(), "use a full version such as v1.2.0") {
		t.Errorf("short version error %v has no hint", err)
	}
	if mods, _ := list(db, ""); len(mods) != 0 { // nothing reached the file
		t.Errorf("refused adds left %+v", mods)
	}
}

func TestListOrder(t *testing.T) {
	db := openTest(t)
	versions := []string{"0.1.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0", "v1.0.1-rc.1",
		"1.0.1", "1.2.0-0", "v1.10.0", "2.0.0-rc.1", "10.0.0-x"}
	names := []string{"zeta", "alpha", "mid-1", "mid_0", "b"}
	r := rand.New(rand.NewPCG(5, 6))
	type nv struct{ n, v string }
	var all []nv
	for _, n := range names {
		for _, v := range versions[:3+r.IntN(len(versions)-2)] {
			all = append(all, nv{n, v})
		}
	}
	r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, x := range all {
		mustAdd(t, db, x.n, x.v, x.n+x.v)
	}
	mods, err := list(db, "")
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, m := range mods {
		gotNames = append(gotNames, m.Name)
		if !slices.IsSortedFunc(m.Versions, func(a, b Record) int { return mustParse(t, b.Version).Compare(mustParse(t, a.Version)) }) {
			t.Errorf("%s versions not highest first: %v", m.Name, versionsOf(m))
		}
		// Strictly descending: no version twice.
		for i := 1; i < len(m.Versions); i++ {
			if mustParse(t, m.Versions[i-1].Version).Compare(mustParse(t, m.Versions[i].Version)) != 1 {
				t.Errorf("%s: %s then %s", m.Name, m.Versions[i-1].Version, m.Versions[i].Version)
			}
		}
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(gotNames, want) {
		t.Fatalf("names %v, want %v", gotNames, want)
	}
	total := 0
	for _, m := range mods {
		total += len(m.Versions)
	}
	if total != len(all) {
		t.Fatalf("List holds %d versions, added %d", total, len(all))
	}
	// The whole order of one name, spelled out.
	one, err := list(db, "alpha")
	if err != nil || len(one) != 1 {
		t.Fatalf("List(alpha) = %+v, %v", one, err)
	}
	n := len(one[0].Versions)
	wantAlpha := slices.Clone(versions[:n])
	slices.SortFunc(wantAlpha, func(a, b string) int { return mustParse(t, b).Compare(mustParse(t, a)) })
	if got := versionsOf(one[0]); !slices.Equal(got, wantAlpha) {
		t.Fatalf("alpha versions %v, want %v", got, wantAlpha)
	}
	empty, err := list(db, "unknown")
	if err != nil || empty == nil || len(empty) != 0 {
		t.Fatalf("List(unknown) = %#v, %v; want an empty slice", empty, err)
	}
	if _, err := list(db, "Bad"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("List(Bad) = %v, want errdefs.ErrInvalid", err)
	}
}

func TestListPreReleasesInterleaved(t *testing.T) {
	db := openTest(t)
	for _, v := range []string{"1.0.0", "3.0.0-rc.1", "2.0.0", "2.0.0-rc.1", "0.5.0-a", "1.5.0-b"} {
		mustAdd(t, db, "m", v, v)
	}
	mods, err := list(db, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"3.0.0-rc.1", "2.0.0", "2.0.0-rc.1", "1.5.0-b", "1.0.0", "0.5.0-a"}
	if got := versionsOf(mods[0]); !slices.Equal(got, want) {
		t.Fatalf("versions %v, want %v", got, want)
	}
}

func versionsOf(m Module) []string {
	var vs []string
	for _, r := range m.Versions {
		vs = append(vs, r.Version)
	}
	return vs
}

func TestRemoveAndRefs(t *testing.T) {
	db := openTest(t)
	shared := "same bytes"
	mustAdd(t, db, "a", "v1.0.0+b", shared)
	mustAdd(t, db, "b", "2.0.0", shared)
	mustAdd(t, db, "b", "2.1.0", "other")
	if n, err := db.Refs(dg(shared)); err != nil || n != 2 {
		t.Fatalf("Refs = %d, %v; want 2", n, err)
	}
	// Semver equality finds v1.0.0+b from 1.0.0.
	rec, left, err := remove(db, "a", "1.0.0")
	if err != nil || rec.Version != "v1.0.0+b" || rec.Digest != dg(shared) || left != 1 {
		t.Fatalf("Remove(a, 1.0.0) = %+v, %d, %v", rec, left, err)
	}
	if _, err := resolve(db, "a", ""); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Resolve after remove = %v", err)
	}
	if _, _, err := remove(db, "a", "1.0.0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("second Remove = %v, want errdefs.ErrNotFound", err)
	}
	mods, _ := list(db, "")
	if len(mods) != 1 || mods[0].Name != "b" {
		t.Fatalf("a name with no version left must leave List: %+v", mods)
	}
	if _, _, err := remove(db, "b", "2.0"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Remove short version = %v, want errdefs.ErrInvalid", err)
	}
	if _, _, err := remove(db, "B", "2.0.0"); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Remove bad name = %v, want errdefs.ErrInvalid", err)
	}
	if _, _, err := remove(db, "b", "9.0.0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Remove missing version = %v, want errdefs.ErrNotFound", err)
	}
	_, left, err = remove(db, "b", "v2.0.0")
	if err != nil || left != 0 {
		t.Fatalf("Remove last ref = %d, %v; want 0", left, err)
	}
	if n, _ := db.Refs(dg(shared)); n != 0 {
		t.Fatalf("Refs after both removed = %d", n)
	}
	if got, _ := resolve(db, "b", ""); got.Version != "2.1.0" {
		t.Fatalf("latest of b = %q", got.Version)
	}
	// A removed version stays immutable (issue 16, point 21): other bytes
	// are refused while its tombstone is there; Forget drops it.
	if _, _, err := db.Add(mustEntry(Record{Name: "b", Version: "2.0.0", Digest: dg("new bytes"), Size: 9})); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("Add of other bytes under a removed version = %v, want errdefs.ErrConflict", err)
	}
	if _, found, _, err := forget(db, "b", "2.0.0"); err != nil || found {
		t.Fatalf("Forget of a tombstone = found %v, %v; want false, nil", found, err)
	}
	mustAdd(t, db, "b", "2.0.0", "new bytes")
}

func TestTombstones(t *testing.T) {
	db := openTest(t)
	mustAdd(t, db, "m", "1.0.0", "one")
	if _, _, err := remove(db, "m", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	ts, err := db.Tombstones()
	if err != nil || len(ts) != 1 || ts[0].Name != "m" || ts[0].Version != "1.0.0" || ts[0].Digest != dg("one") || ts[0].Size != 3 || ts[0].Removed.IsZero() {
		t.Fatalf("Tombstones = %+v, %v", ts, err)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	// The same bytes come back (under any spelling of the version) and
	// the tombstone goes.
	if _, created, err := db.Add(mustEntry(Record{Name: "m", Version: "1.0.0+b", Digest: dg("one"), Size: 3})); err != nil || !created {
		t.Fatalf("Add of the same bytes = %v, %v", created, err)
	}
	if ts, _ := db.Tombstones(); len(ts) != 0 {
		t.Fatalf("tombstone kept after the version came back: %+v", ts)
	}
	// Forget removes a stored version without a tombstone.
	rec, found, left, err := forget(db, "m", "1.0.0")
	if err != nil || !found || left != 0 || rec.Digest != dg("one") {
		t.Fatalf("Forget = %+v %v %d %v", rec, found, left, err)
	}
	if ts, _ := db.Tombstones(); len(ts) != 0 {
		t.Fatalf("Forget left a tombstone: %+v", ts)
	}
	if _, _, _, err := forget(db, "m", "1.0.0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Forget of nothing = %v, want ErrNotFound", err)
	}
	// A tombstone is put back (rebuild); not over a stored version.
	if err := db.AddTombstone(Tombstone{Name: "m", Version: "2.0.0", Digest: dg("two"), Size: 3}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, db, "m", "3.0.0", "three")
	if err := db.AddTombstone(Tombstone{Name: "m", Version: "3.0.0", Digest: dg("x"), Size: 1}); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("AddTombstone over a stored version = %v", err)
	}
	if _, _, err := db.Add(mustEntry(Record{Name: "m", Version: "2.0.0", Digest: dg("other"), Size: 5})); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("Add over a put-back tombstone = %v", err)
	}
}

// TestUnlinkedIndexRefusesWrites: an index file removed or replaced while
// open is detected before every write (issue 16, point 8).
func TestUnlinkedIndexRefusesWrites(t *testing.T) {
	for _, how := range []string{"removed", "replaced"} {
		t.Run(how, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			db := openAt(t, path)
			mustAdd(t, db, "a", "1.0.0", "a")
			if err := db.CheckLinked(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if how == "replaced" {
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			for what, err := range map[string]error{
				"CheckLinked": db.CheckLinked(),
				"Add": func() error {
					_, _, err := db.Add(mustEntry(Record{Name: "b", Version: "1.0.0", Digest: dg("b"), Size: 1}))
					return err
				}(),
				"Remove": func() error { _, _, err := remove(db, "a", "1.0.0"); return err }(),
			} {
				if !errors.Is(err, ErrUnlinked) || !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), how) {
					t.Errorf("%s = %v, want ErrUnlinked saying %s", what, err, how)
				}
			}
			// Reads still work: the open file is whole.
			if _, err := resolve(db, "a", "1.0.0"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStatsWalkSnapshot(t *testing.T) {
	db := openTest(t)
	mustAdd(t, db, "a", "1.0.0", "xx")
	mustAdd(t, db, "a", "1.1.0-rc.1", "yyy")
	mustAdd(t, db, "b", "0.1.0", "xx")
	mustAdd(t, db, "c", "3.0.0", "zzzz")
	s, err := db.Stats()
	want := Stats{Modules: 3, Versions: 4, Blobs: 3, Bytes: 2 + 3 + 4}
	if err != nil || s != want {
		t.Fatalf("Stats = %+v, %v; want %+v", s, err, want)
	}
	var walked []string
	if err := db.Walk(func(r Record) error { walked = append(walked, r.Name+"@"+r.Version); return nil }); err != nil {
		t.Fatal(err)
	}
	wantWalk := []string{"a@1.1.0-rc.1", "a@1.0.0", "b@0.1.0", "c@3.0.0"}
	if !slices.Equal(walked, wantWalk) {
		t.Fatalf("Walk = %v, want %v", walked, wantWalk)
	}
	stop := errors.New("stop here")
	n := 0
	if err := db.Walk(func(Record) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("Walk with error = %v after %d calls; want the error after 1", err, n)
	}

	var buf bytes.Buffer
	recs, _, err := db.Snapshot(&buf)
	if err != nil || len(recs) != 4 {
		t.Fatalf("Snapshot = %d records, %v", len(recs), err)
	}
	// The snapshot is a working index with those records.
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB := openAt(t, path)
	var copied []Record
	if err := copyDB.Walk(func(r Record) error { copied = append(copied, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(copied, recs, sameRecord) {
		t.Fatalf("snapshot file holds %+v, Snapshot returned %+v", copied, recs)
	}
}

// TestSnapshotIsOneInstant: records returned by Snapshot are exactly those
// in the bytes written, while writers keep adding.
func TestSnapshotIsOneInstant(t *testing.T) {
	db := openTest(t)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 400; i++ {
			select {
			case <-done:
				return
			default:
			}
			mustAdd(t, db, "w", fmt.Sprintf("1.0.%d", i), fmt.Sprint(i))
		}
	}()
	for i := 0; i < 5; i++ {
		var buf bytes.Buffer
		recs, _, err := db.Snapshot(&buf)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), fmt.Sprintf("s%d.db", i))
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		c := openAt(t, path)
		s, err := c.Stats()
		if err != nil || s.Versions != len(recs) {
			t.Fatalf("snapshot %d: file has %d versions, Snapshot returned %d (%v)", i, s.Versions, len(recs), err)
		}
	}
	close(done)
	wg.Wait()
}

func TestConcurrentAddResolve(t *testing.T) {
	db := openTest(t)
	const writers, perWriter = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter*2)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				// Writers overlap: each version is added by two writers
				// with the same bytes, so both must succeed.
				n := (w/2)*perWriter + i
				name := fmt.Sprintf("c%d", n%3)
				v := fmt.Sprintf("1.%d.0", n)
				if n%5 == 0 {
					v += "-rc.1"
				}
				if _, _, err := db.Add(mustEntry(Record{Name: name, Version: v, Digest: dg(name + v), Size: 1})); err != nil {
					errs <- err
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 3; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec, err := resolve(db, fmt.Sprintf("c%d", i%3), "")
				if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					errs <- err
				}
				if err == nil && rec.Digest != dg(rec.Name+rec.Version) {
					errs <- fmt.Errorf("resolved %s@%s with digest of other bytes", rec.Name, rec.Version)
				}
				if _, err := list(db, ""); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, err := db.Stats()
	if err != nil || s.Versions != writers/2*perWriter || s.Modules != 3 {
		t.Fatalf("Stats = %+v, %v; want %d versions in 3 modules", s, err, writers/2*perWriter)
	}
	// latest of each name is its highest release.
	mods, _ := list(db, "")
	for _, m := range mods {
		var best *semver.Version
		for _, r := range m.Versions {
			v := mustParse(t, r.Version)
			if v.Prerelease() == "" && (best == nil || v.GreaterThan(best)) {
				best = v
			}
		}
		got, err := resolve(db, m.Name, "latest")
		if err != nil || got.Version != best.Original() {
			t.Errorf("latest %s = %s, %v; want %s", m.Name, got.Version, err, best.Original())
		}
	}
}

func TestReopenPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := mustAdd(t, db, "math", "v1.2.0", "a")
	b := mustAdd(t, db, "math", "2.0.0-rc.1", "b")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	db2 := openAt(t, path)
	if db2.Path() != path {
		t.Fatalf("Path = %q", db2.Path())
	}
	got, err := resolve(db2, "math", "1.2.0")
	if err != nil || !sameRecord(got, a) {
		t.Fatalf("after reopen %+v, %v; want %+v", got, err, a)
	}
	got, err = resolve(db2, "math", ">=2.0.0-0")
	if err != nil || !sameRecord(got, b) {
		t.Fatalf("after reopen %+v, %v; want %+v", got, err, b)
	}
}

func TestReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only Open of a missing file succeeded")
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, db, "a", "1.0.0", "x")
	db.Close()
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if rec, err := resolve(ro, "a", ""); err != nil || rec.Version != "1.0.0" {
		t.Fatalf("read-only Resolve = %+v, %v", rec, err)
	}
	if _, _, err := ro.Add(mustEntry(Record{Name: "a", Version: "2.0.0", Digest: dg("y")})); err == nil {
		t.Fatal("Add on a read-only index succeeded")
	}
}

// writeSchema makes a bbolt file whose meta bucket says version.
func writeSchema(t *testing.T, path string, version int) {
	t.Helper()
	bdb, err := OpenBolt(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := bdb.Update(func(tx *bolt.Tx) error { return WriteSchemaTx(tx, version) }); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSchemaVersions(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	writeSchema(t, old, 1)
	_, err := Open(old, Options{})
	if !errors.Is(err, ErrSchemaOld) || !strings.Contains(err.Error(), "schema 1") || !strings.Contains(err.Error(), fmt.Sprintf("schema %d", SchemaVersion)) {
		t.Fatalf("Open of schema 1 = %v, want ErrSchemaOld naming both", err)
	}
	newer := filepath.Join(dir, "new.db")
	writeSchema(t, newer, SchemaVersion+1)
	_, err = Open(newer, Options{})
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("schema %d", SchemaVersion+1)) ||
		!strings.Contains(err.Error(), fmt.Sprintf("schema %d", SchemaVersion)) {
		t.Fatalf("Open of schema %d = %v, want ErrSchemaTooNew naming both", SchemaVersion+1, err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	bdb, err := OpenBolt(foreign, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Open(foreign, Options{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Open of a foreign bbolt file = %v, want errdefs.ErrInvalid", err)
	}
	// The refused files were released: they open again at once.
	for _, p := range []string{old, newer, foreign} {
		bdb, err := OpenBolt(p, Options{Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatalf("%s still locked after a refused Open: %v", p, err)
		}
		bdb.Close()
	}
	// An empty (0-byte) file is a fresh index.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db := openAt(t, empty)
	mustAdd(t, db, "a", "1.0.0", "x")
}

func TestDecodeRecordRejectsGarbage(t *testing.T) {
	good := encodeRecord(Record{Version: "1.0.0", Digest: dg("x"), Size: 5, Created: time.Unix(100, 7)})
	r, err := decodeRecord("n", good)
	if err != nil || r.Version != "1.0.0" || r.Size != 5 || !r.Created.Equal(time.Unix(100, 7)) {
		t.Fatalf("decode = %+v, %v", r, err)
	}
	for i := 0; i < len(good); i++ {
		if _, err := decodeRecord("n", good[:i]); !errors.Is(err, errBadRecord) {
			t.Fatalf("decode of %d of %d bytes = %v, want errBadRecord", i, len(good), err)
		}
	}
	if _, err := decodeRecord("n", append(slices.Clone(good), 0)); !errors.Is(err, errBadRecord) {
		t.Fatalf("decode with a trailing byte = %v", err)
	}
	// Schema 5: the parse's info after the record's fields.
	mi := ModuleInfo{Kind: "module", Imports: 2, Exports: 3, Detail: []byte{9, 8, 7}}
	withInfo := encodeRecordInfo(Record{Version: "1.0.0", Digest: dg("x"), Size: 5, Created: time.Unix(100, 7)}, &mi)
	if r2, err := decodeRecord("n", withInfo); err != nil || r2 != r {
		t.Fatalf("decode with info = %+v, %v; want %+v", r2, err, r)
	}
	got, has, err := recordInfo("n", withInfo, true)
	mi.Version = "1.0.0"
	if err != nil || !has || !reflect.DeepEqual(got, mi) {
		t.Fatalf("recordInfo = %+v, %v, %v; want %+v", got, has, err, mi)
	}
	if _, has, err := recordInfo("n", good, true); err != nil || has {
		t.Fatalf("recordInfo of a record without info = %v, %v", has, err)
	}
	for i := len(good) + 1; i < len(withInfo)-len(mi.Detail); i++ {
		if _, err := decodeRecord("n", withInfo[:i]); !errors.Is(err, errBadRecord) {
			t.Fatalf("decode of %d of %d bytes = %v, want errBadRecord", i, len(withInfo), err)
		}
	}
}

// TestNoSliceEscapes: records read from a transaction stay intact after it
// ends and after later writes reuse its pages.
func TestNoSliceEscapes(t *testing.T) {
	db := openTest(t)
	mustAdd(t, db, "a", "1.0.0", "x")
	got, _ := resolve(db, "a", "")
	mods, _ := list(db, "")
	for i := 0; i < 200; i++ {
		mustAdd(t, db, "a", fmt.Sprintf("2.0.%d", i), fmt.Sprint(i))
	}
	_, _, _ = remove(db, "a", "1.0.0")
	if got.Version != "1.0.0" || got.Digest != dg("x") || mods[0].Name != "a" || mods[0].Versions[0].Version != "1.0.0" {
		t.Fatalf("returned records changed under us: %+v %+v", got, mods)
	}
}

// mustEntry parses a record the test knows is good: tests build records as
// literals, and Add takes only parsed entries.
func mustEntry(r Record) Entry {
	e, err := ParseRecord(r)
	if err != nil {
		panic(err)
	}
	return e
}

// TestAddZeroEntry: an Entry that did not come from ParseRef or
// ParseRecord (its zero value: the only one code outside index can build)
// is refused, not stored under an empty name.
func TestAddZeroEntry(t *testing.T) {
	db := openTest(t)
	if _, _, err := db.Add(Entry{Digest: dg("x"), Size: 1}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("Add(zero ref) = %v, want errdefs.ErrInvalid", err)
	}
}

// TestAddKeepsInfo: an Entry's info is stored in its version's value;
// the same version and bytes again fill in an info the version lacked
// (a store from before uploads were parsed) and never replace one.
func TestAddKeepsInfo(t *testing.T) {
	db := openTest(t)
	e := mustEntry(Record{Name: "m", Version: "v1.0.0", Digest: dg("m"), Size: 1})
	if _, created, err := db.Add(e); err != nil || !created {
		t.Fatalf("Add = %v, %v", created, err)
	}
	ref := MustRef("m", "1.0.0")
	if _, err := db.Info(ref); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Info of a version added without one = %v, want ErrNotFound", err)
	}
	first := ModuleInfo{Kind: "module", Imports: 1, Detail: []byte{1}}
	e.Info = &first
	if _, created, err := db.Add(e); err != nil || created {
		t.Fatalf("Add again with info = %v, %v; want no new version", created, err)
	}
	second := ModuleInfo{Kind: "component"}
	e.Info = &second
	if _, _, err := db.Add(e); err != nil {
		t.Fatal(err)
	}
	got, err := db.Info(ref)
	want := first
	want.Version = "v1.0.0"
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Info = %+v, %v; want the first info %+v", got, err, want)
	}
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}
