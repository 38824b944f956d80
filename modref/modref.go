// Package modref is the grammar of module names and uploaded versions,
// with the one-line messages that refuse a bad one. It is light: it
// imports only the standard library and errdefs, so the command line
// checks names and versions at its boundary without linking the index,
// bbolt or a semver library (issue 15: every package a command links adds
// to its start).
//
// The index builds its typed values on it (index.ParseName and
// index.ParseVersion check here first, then parse with
// Masterminds/semver, which stays the daemon's parser and comparator), so
// every boundary refuses a bad name or version with the same message.
//
// # Guarantees
//
//   - CheckName accepts exactly GMP.md's names: 1-64 characters of
//     a-z 0-9 _ -, beginning with a letter.
//   - ParseVersion accepts exactly what index.ParseVersion accepts (a
//     strict semantic version with one optional leading v, numeric
//     pre-release identifiers within 64 bits), and its Canonical text is
//     semver's String(). index's FuzzVersionGrammar feeds the same
//     strings to both and fails on any disagreement.
//   - Every error wraps errdefs.ErrInvalid and names the value and the
//     rule.
package modref

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/errdefs"
)

// MaxNameLen is the longest module name GMP allows.
const MaxNameLen = 64

// MaxVersionLen is the longest version text semver parses (its own bound
// on the work one string may cost).
const MaxVersionLen = 256

// nameRule is quoted in every name error so the person reading it can fix
// the name without looking the rule up.
const nameRule = "a module name is 1-64 characters of a-z 0-9 _ -, beginning with a letter"

// versionHint ends every version error: the common mistake is a short
// version such as "1" or "1.2", which semver ranges accept but an upload
// must not (it would be ambiguous which version was meant).
const versionHint = "use a full version such as v1.2.0"

// CheckName checks a module name against GMP.md's rule: 1-64 characters
// of a-z 0-9 _ -, beginning with a letter. The error wraps
// errdefs.ErrInvalid and names the value and the rule.
func CheckName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("module name %q: %w: %s (it has %d)", name, errdefs.ErrInvalid, nameRule, len(name))
	}
	if c := name[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("module name %q: %w: %s; it begins with %s", name, errdefs.ErrInvalid, nameRule, quoteChar(name, 0))
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("module name %q: %w: %s; %s at offset %d is not allowed", name, errdefs.ErrInvalid, nameRule, quoteChar(name, i), i)
	}
	return nil
}

// quoteChar quotes the character that begins at byte i of s, whole: 'ä',
// not the first byte of its UTF-8 encoding. A byte that begins no valid
// UTF-8 character is shown as '\xNN'.
func quoteChar(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf("'\\x%02x'", s[i])
	}
	return strconv.QuoteRune(r)
}

// Version is an uploaded version that passed ParseVersion.
type Version struct {
	Major, Minor, Patch uint64
	// Pre and Build are the pre-release and build parts, without their
	// leading - and +; empty when absent.
	Pre, Build string
	// Original is the text as given (v1.2.0 stays v1.2.0).
	Original string
}

// Canonical is the version without its leading v: what semver's String()
// gives (MAJOR.MINOR.PATCH[-PRE][+BUILD]).
func (v Version) Canonical() string {
	s := strconv.FormatUint(v.Major, 10) + "." + strconv.FormatUint(v.Minor, 10) + "." + strconv.FormatUint(v.Patch, 10)
	if v.Pre != "" {
		s += "-" + v.Pre
	}
	if v.Build != "" {
		s += "+" + v.Build
	}
	return s
}

// ParseVersion parses an uploaded version: a full semantic version
// MAJOR.MINOR.PATCH with one optional leading v, optional pre-release and
// build parts. "1" or "1.2" fail with a hint. Numeric pre-release
// identifiers must fit in 64 bits (semver compares them as numbers; the
// index keys store them in 8 bytes). The error wraps errdefs.ErrInvalid.
func ParseVersion(v string) (Version, error) {
	bare := strings.TrimPrefix(v, "v")
	pv, err := strict(bare)
	if err != nil {
		core := bare
		if i := strings.IndexAny(core, "-+"); i >= 0 {
			core = core[:i]
		}
		if core != "" && strings.Count(core, ".") < 2 && strings.Trim(core, "0123456789.") == "" {
			return Version{}, fmt.Errorf("version %q: %w: it has no %s; an uploaded version is a full semantic version MAJOR.MINOR.PATCH (%s)",
				v, errdefs.ErrInvalid, missingParts(core), versionHint)
		}
		return Version{}, fmt.Errorf("version %q: %w: not a semantic version MAJOR.MINOR.PATCH with optional v prefix, -pre-release and +build (%v; %s)",
			v, errdefs.ErrInvalid, err, versionHint)
	}
	if pv.Pre != "" {
		for _, id := range strings.Split(pv.Pre, ".") {
			if IsNumeric(id) {
				if _, err := strconv.ParseUint(id, 10, 64); err != nil {
					return Version{}, fmt.Errorf("version %q: %w: numeric pre-release identifier %s does not fit in 64 bits", v, errdefs.ErrInvalid, id)
				}
			}
		}
	}
	if bare != v && len(v) > MaxVersionLen {
		// semver reads the text with its v too, and bounds that length.
		return Version{}, fmt.Errorf("version %q: %w: not a semantic version (%s)", v, errdefs.ErrInvalid, versionHint)
	}
	pv.Original = v
	return pv, nil
}

// The refusals of a strict semantic version, worded as semver words them
// (they end up inside ParseVersion's message, which must read the same
// whichever parser refused).
var (
	errInvalid    = errors.New("invalid semantic version")
	errEmpty      = errors.New("version string empty")
	errCharacters = errors.New("invalid characters in version")
	errStartsZero = errors.New("version segment starts with 0")
	errMetadata   = errors.New("invalid metadata string")
	errPrerelease = errors.New("invalid prerelease string")
	errTooLong    = errors.New("version string is too long (max 256 bytes)") // MaxVersionLen
)

// The characters of a version's parts; constants, so that no
// concatenation runs at package initialisation (issue 15's start-up).
const (
	digits          = "0123456789"
	identifierChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-" + digits
)

// strict parses a semantic version with no v: MAJOR.MINOR.PATCH, each a
// number without leading zeros, then -PRE and +BUILD of dot-separated
// identifiers. The checks run in semver's order, so that the first fault
// found (and named) is the one semver names.
func strict(s string) (Version, error) {
	if s == "" {
		return Version{}, errEmpty
	}
	if len(s) > MaxVersionLen {
		return Version{}, errTooLong
	}
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return Version{}, errInvalid
	}
	var v Version
	if i := strings.IndexByte(parts[2], '+'); i >= 0 {
		v.Build = parts[2][i+1:]
		parts[2] = parts[2][:i]
		if err := checkIdentifiers(v.Build, errMetadata, false); err != nil {
			return Version{}, err
		}
	}
	if i := strings.IndexByte(parts[2], '-'); i >= 0 {
		v.Pre = parts[2][i+1:]
		parts[2] = parts[2][:i]
		if err := checkIdentifiers(v.Pre, errPrerelease, true); err != nil {
			return Version{}, err
		}
	}
	for _, p := range parts {
		if !containsOnly(p, digits) {
			return Version{}, errCharacters
		}
		if len(p) > 1 && p[0] == '0' {
			return Version{}, errStartsZero
		}
	}
	var err error
	for i, dst := range []*uint64{&v.Major, &v.Minor, &v.Patch} {
		if *dst, err = strconv.ParseUint(parts[i], 10, 64); err != nil {
			return Version{}, err
		}
	}
	return v, nil
}

// checkIdentifiers checks dot-separated identifiers of [0-9A-Za-z-];
// numeric pre-release identifiers may not start with 0.
func checkIdentifiers(s string, bad error, pre bool) error {
	for _, id := range strings.Split(s, ".") {
		switch {
		case id == "":
			return bad
		case pre && containsOnly(id, digits):
			if len(id) > 1 && id[0] == '0' {
				return errStartsZero
			}
		case !containsOnly(id, identifierChars):
			return bad
		}
	}
	return nil
}

// containsOnly reports whether every character of s is in set (true for
// an empty s).
func containsOnly(s, set string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(set, r) }) == -1
}

func missingParts(core string) string {
	if strings.Count(core, ".") == 0 {
		return "minor and patch parts"
	}
	return "patch part"
}

// IsNumeric reports whether a pre-release identifier is numeric: digits
// only. Semver compares such identifiers as numbers, others as text.
func IsNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CheckRef checks a name and a version (CheckName, ParseVersion): what the
// command line does before it sends an upload. Its errors are theirs.
func CheckRef(name, version string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	_, err := ParseVersion(version)
	return err
}
