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
