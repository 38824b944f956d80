package index

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/ghost-network/gpmd/errdefs"
)

// Query is what a lookup asks for, parsed once (ParseQuery): the latest
// version, an exact version (semver equality), or a Masterminds
// constraint. Resolve reads queries through it, and so does anything else
// that picks among versions the way Resolve does (the registry
// pull-through), so the rule has one home.
//
// A Query carries the checked name it is about, so the lookups below the
// boundary (index.DB.Resolve, repo.Repo.Get, Info, Check) take one value
// and check nothing again.
type Query struct {
	name       Name
	text       string // as asked, for messages
	exact      *semver.Version
	constraint *semver.Constraints
}

// ParseQuery checks name (ParseName, whose error it returns unwrapped)
// and parses query for it: "" or "latest" (any case) is the latest; a full
// version (ParseVersion) is exact; otherwise a constraint such as ^1.2.
// Anything else wraps errdefs.ErrInvalid, naming name@query.
func ParseQuery(name, query string) (Query, error) {
	n, err := ParseName(name)
	if err != nil {
		return Query{}, err
	}
	return n.Query(query)
}

// Query parses query (see ParseQuery) for the checked name n.
func (n Name) Query(query string) (Query, error) {
	if query == "" || strings.EqualFold(query, "latest") {
		return Query{name: n, text: query}, nil
	}
	if v, err := parseSemver(query); err == nil {
		return Query{name: n, text: query, exact: v}, nil
	}
	c, err := semver.NewConstraint(query)
	if err != nil {
		return Query{}, fmt.Errorf("module %s@%s: %w: the version is neither a semantic version nor a constraint such as ^1.2, ~1.2.3 or \">=1.0.0 <2.0.0\" (%v)",
			n.s, query, errdefs.ErrInvalid, err)
	}
	return Query{name: n, text: query, constraint: c}, nil
}

// MustQuery is ParseQuery for values known good when the program is
// written (tests, examples); it panics on a bad one.
func MustQuery(name, query string) Query {
	q, err := ParseQuery(name, query)
	if err != nil {
		panic(err)
	}
	return q
}

// Name is the module the query is about.
func (q Query) Name() Name { return q.name }

// Text is the query as asked ("" for the latest when nothing was asked).
func (q Query) Text() string { return q.text }

// String is name@query as messages quote it; an empty query reads
// "latest".
func (q Query) String() string {
	if q.text == "" {
		return q.name.s + "@latest"
	}
	return q.name.s + "@" + q.text
}

// IsLatest reports whether q asks for the latest version.
func (q Query) IsLatest() bool { return q.exact == nil && q.constraint == nil }

// Matches reports whether v is a version q accepts: any for the latest,
// an equal one for an exact query, one satisfying the constraint.
func (q Query) Matches(v *semver.Version) bool {
	switch {
	case q.exact != nil:
		return q.exact.Equal(v)
	case q.constraint != nil:
		return q.constraint.Check(v)
	}
	return true
}
