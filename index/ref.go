package index

import (
	"bytes"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
)

// Name is a module name that passed GMP.md's rule. Only ParseName (and
// ParseRef, MustRef) make one: its field is unexported, so code outside
// this package cannot build a Name from an unchecked string, and the
// packages below the boundary (repo, index) take a Name and never check
// it again. The zero Name is "" and is not a valid name; nothing that
// takes a Name accepts it from a caller that did not parse.
type Name struct{ s string }

// ParseName checks s against the name rule (see ValidateName's messages,
// which it keeps) and returns it typed.
func ParseName(s string) (Name, error) {
	if err := validateName(s); err != nil {
		return Name{}, err
	}
	return Name{s: s}, nil
}

// MustName is ParseName for values known good when the program is
// written (tests, examples); it panics on a bad one.
func MustName(s string) Name {
	n, err := ParseName(s)
	if err != nil {
		panic(err)
	}
	return n
}

// String is the name as given.
func (n Name) String() string { return n.s }

// IsZero reports whether n was never parsed.
func (n Name) IsZero() bool { return n.s == "" }

// Version is an uploaded version that passed ParseVersion: the parsed
// semantic version together with its text as uploaded (v1.2.0 stays
// v1.2.0). Only ParseVersion (and ParseRef, MustRef) make one.
type Version struct{ sv *semver.Version }

// Original is the version as uploaded: what records keep and messages
// quote.
func (v Version) Original() string {
	if v.sv == nil {
		return ""
	}
	return v.sv.Original()
}

// String is the version in semver's canonical spelling (no leading v).
func (v Version) String() string {
	if v.sv == nil {
		return ""
	}
	return v.sv.String()
}

// IsZero reports whether v was never parsed.
func (v Version) IsZero() bool { return v.sv == nil }

// Compare orders v and o as semver does (build metadata ignored): -1, 0
// or 1.
func (v Version) Compare(o Version) int { return v.sv.Compare(o.sv) }

// Equal reports semver equality (v1.0.0, 1.0.0 and 1.0.0+b7 are equal).
func (v Version) Equal(o Version) bool { return v.Compare(o) == 0 }

// Semver is the parsed version, for constraint checks.
func (v Version) Semver() *semver.Version { return v.sv }

// LaterLatest reports whether v would be its name's latest rather than o:
// the index's own order of version keys, in which every release sorts
// after every pre-release (a blank request gets the highest release, and
// the highest pre-release only where the name has no release).
func (v Version) LaterLatest(o Version) bool {
	return bytes.Compare(versionKey(v.sv), versionKey(o.sv)) > 0
}

// Ref is a checked name and version: what an upload, a removal or an
// exact lookup is about.
type Ref struct {
	name    Name
	version Version
}

// ParseRef checks name and version (ParseName, ParseVersion) and returns
// them typed. Its errors are theirs, unwrapped: the caller adds what it
// was doing ("upload a@v1: ...").
func ParseRef(name, version string) (Ref, error) {
	n, err := ParseName(name)
	if err != nil {
		return Ref{}, err
	}
	v, err := ParseVersion(version)
	if err != nil {
		return Ref{}, err
	}
	return Ref{name: n, version: v}, nil
}

// MustRef is ParseRef for values known good when the program is written
// (tests, examples); it panics on a bad one.
func MustRef(name, version string) Ref {
	r, err := ParseRef(name, version)
	if err != nil {
		panic(err)
	}
	return r
}

// NewRef joins a parsed name and version.
func NewRef(n Name, v Version) Ref { return Ref{name: n, version: v} }

// Name of the reference.
func (r Ref) Name() Name { return r.name }

// Version of the reference (Original() is as uploaded).
func (r Ref) Version() Version { return r.version }

// Query is the exact query for r: what resolves to r's version and no
// other.
func (r Ref) Query() Query {
	return Query{name: r.name, text: r.version.Original(), exact: r.version.sv}
}

// IsZero reports whether r was never parsed.
func (r Ref) IsZero() bool { return r.name.IsZero() || r.version.IsZero() }

// String is name@version.
func (r Ref) String() string { return r.name.s + "@" + r.version.Original() }

// Ref is the record's name and version typed, for a lookup of exactly
// this version. The record's fields are plain strings (a record may come
// from JSON), so they are parsed: a bad one wraps errdefs.ErrInvalid.
func (r Record) Ref() (Ref, error) { return ParseRef(r.Name, r.Version) }

// Entry is what Add and PutTx store: a checked reference and the blob it
// names. Digest is a sha256 digest the caller computed or parsed
// (digest.Parse) at its boundary; Size is not negative. Created zero means
// now. Info, when not nil, is what the parse of the bytes recorded: it is
// stored in the version's own value (ModuleInfo), so a version is never
// visible without it; its Version is ignored (the record's is kept).
type Entry struct {
	Ref     Ref
	Digest  digest.Digest
	Size    int64
	Created time.Time
	Info    *ModuleInfo
}
