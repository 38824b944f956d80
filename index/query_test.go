package index

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/ghost-network/gpmd/errdefs"
)

// TestParseQuery: the one reading of a lookup's version, shared by Resolve
// and the registry pull-through.
func TestParseQuery(t *testing.T) {
	v := func(s string) *semver.Version { return semver.MustParse(s) }
	for _, tc := range []struct {
		query  string
		latest bool
		match  []*semver.Version
		miss   []*semver.Version
	}{
		{"", true, []*semver.Version{v("0.0.1-a"), v("9.0.0")}, nil},
		{"LATEST", true, []*semver.Version{v("1.0.0")}, nil},
		{"v1.2.0", false, []*semver.Version{v("1.2.0"), v("1.2.0+b7")}, []*semver.Version{v("1.2.1")}},
		{"^1.2", false, []*semver.Version{v("1.2.0"), v("1.9.9")}, []*semver.Version{v("2.0.0"), v("1.1.0")}},
	} {
		q, err := ParseQuery("math", tc.query)
		if err != nil || q.IsLatest() != tc.latest {
			t.Fatalf("ParseQuery(%q) = %+v, %v", tc.query, q, err)
		}
		for _, m := range tc.match {
			if !q.Matches(m) {
				t.Errorf("%q does not match %s", tc.query, m)
			}
		}
		for _, m := range tc.miss {
			if q.Matches(m) {
				t.Errorf("%q matches %s", tc.query, m)
			}
		}
	}
	_, err := ParseQuery("math", "not a version!")
	if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "module math@not a version!") || !strings.Contains(err.Error(), "neither a semantic version nor a constraint") {
		t.Errorf("bad query: %v", err)
	}
}

// TestQueryCarriesItsName: ParseQuery checks the name first (with
// ParseName's message), the query keeps its text for messages, and the
// lookups refuse a Query, Ref or Name that was never parsed instead of
// reading the store with it.
func TestQueryCarriesItsName(t *testing.T) {
	_, nameErr := ParseName("Bad.Name")
	if _, err := ParseQuery("Bad.Name", "^1"); err == nil || err.Error() != nameErr.Error() {
		t.Errorf("ParseQuery with a bad name: %v, want %v", err, nameErr)
	}
	for query, want := range map[string]string{"": "m@latest", "LATEST": "m@LATEST", "^1.2": "m@^1.2", "v1.0.0": "m@v1.0.0"} {
		q := MustQuery("m", query)
		if q.String() != want || q.Name().String() != "m" || q.Text() != query {
			t.Errorf("%q: %s %s %q", query, q, q.Name(), q.Text())
		}
	}
	if q := MustRef("m", "v1.2.0").Query(); q.String() != "m@v1.2.0" || !q.Matches(semver.MustParse("1.2.0")) || q.Matches(semver.MustParse("1.2.1")) {
		t.Errorf("Ref.Query: %s", q)
	}

	db := openTest(t)
	if _, _, err := db.Add(Entry{Ref: MustRef("m", "v1.0.0"), Digest: dg("one"), Size: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Resolve(Query{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Resolve(zero): %v, want ErrInvalid", err)
	}
	if _, _, err := db.Remove(Ref{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Remove(zero): %v, want ErrInvalid", err)
	}
	if _, _, err := db.Remove(NewRef(MustName("m"), Version{})); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Remove(no version): %v, want ErrInvalid", err)
	}
	if _, _, _, err := db.Forget(Ref{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Forget(zero): %v, want ErrInvalid", err)
	}
	if _, err := db.Info(Ref{}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Errorf("Info(zero): %v, want ErrInvalid", err)
	}
	if _, err := db.Resolve(MustQuery("m", "^2")); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "m@^2") {
		t.Errorf("Resolve(^2): %v", err)
	}
	if mods, err := db.List(Name{}); err != nil || len(mods) != 1 {
		t.Errorf("List(zero Name) lists all: %+v %v", mods, err)
	}
}
