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
type Query struct {
	exact      *semver.Version
	constraint *semver.Constraints
}

// ParseQuery parses query for name: "" or "latest" (any case) is the
// latest; a full version (ParseVersion) is exact; otherwise a constraint
// such as ^1.2. Anything else wraps errdefs.ErrInvalid, naming name@query.
func ParseQuery(name, query string) (Query, error) {
	if query == "" || strings.EqualFold(query, "latest") {
		return Query{}, nil
	}
	if v, err := parseSemver(query); err == nil {
		return Query{exact: v}, nil
	}
	c, err := semver.NewConstraint(query)
	if err != nil {
		return Query{}, fmt.Errorf("module %s@%s: %w: the version is neither a semantic version nor a constraint such as ^1.2, ~1.2.3 or \">=1.0.0 <2.0.0\" (%v)",
			name, query, errdefs.ErrInvalid, err)
	}
	return Query{constraint: c}, nil
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
