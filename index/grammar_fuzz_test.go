package index

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/modref"
)

// grammarSeeds are the versions the boundary tests and version_test.go
// use, good and bad, and the edges of semver's own checks.
var grammarSeeds = []string{
	"v1.0.0", "1.0.0", "0.0.1", "v0.0.1", "1.2.3", "v1.2.3", "1.0.0+build7", "v1.0.0+x.y", "1.0.0-0", "1.0.0-1",
	"1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.11", "1.0.0-rc.1+build.7",
	"v1.0.0-rc.1+b", "1.0.1-0", "2.0.0-rc.1", "18446744073709551615.0.0", "18446744073709551616.0.0",
	"1.2.3-18446744073709551615", "1.2.3-18446744073709551616", "01.2.3", "1.02.3", "1.2.3-01", "1", "v1",
	"1.2", "v1.2", "1.2-rc.1", "1.2.3+", "1.2.3-", "1.2.3-a..b", "1.2.3-α", "1.2.3.4", "9lives", "", "v", "vv1.0.0",
	"V1.0.0", " 1.0.0", "1.0.0 ", "1..0", "1.0.0+a+b", "1.0.0-a-b", "1.0.0+-", "1.0.0-+", "one",
	"v" + strings.Repeat("1", 254) + ".0.0", strings.Repeat("1", 252) + ".0.0", "v" + strings.Repeat("1", 253) + ".0.0",
}

// FuzzVersionGrammar feeds the same string to modref's grammar (what the
// command line checks, linking no semver) and to semver's parse (the
// daemon's, with gpmd's 64-bit rule for numeric pre-release identifiers),
// and fails on any disagreement: one accepts what the other refuses, or
// their canonical text or parts differ.
func FuzzVersionGrammar(f *testing.F) {
	for _, s := range grammarSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mv, merr := modref.ParseVersion(s)
		sv, serr := semverOf(s)
		if serr == nil {
			serr = fitsIn64Bits(sv.Prerelease())
		}
		if (merr == nil) != (serr == nil) {
			t.Fatalf("%q: modref says %v, semver says %v", s, merr, serr)
		}
		if merr != nil {
			return
		}
		if mv.Canonical() != sv.String() || mv.Original != sv.Original() ||
			mv.Major != sv.Major() || mv.Minor != sv.Minor() || mv.Patch != sv.Patch() ||
			mv.Pre != sv.Prerelease() || mv.Build != sv.Metadata() {
			t.Fatalf("%q: modref reads %+v (%s), semver %s (original %q)", s, mv, mv.Canonical(), sv, sv.Original())
		}
		// What index keeps is semver's value behind modref's check.
		if v, err := ParseVersion(s); err != nil || v.String() != mv.Canonical() || v.Original() != s {
			t.Fatalf("%q: ParseVersion %v %v", s, v, err)
		}
	})
}

// fitsIn64Bits is gpmd's rule beyond semver's: a numeric pre-release
// identifier fits in 64 bits (the index keys store it in 8 bytes).
func fitsIn64Bits(pre string) error {
	if pre == "" {
		return nil
	}
	for _, id := range strings.Split(pre, ".") {
		if modref.IsNumeric(id) {
			if _, err := strconv.ParseUint(id, 10, 64); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestVersionMessagesAreModrefs: every refusal of index.ParseVersion is
// modref's message, word for word, so the command line (which checks with
// modref) and every boundary of the daemon say the same.
func TestVersionMessagesAreModrefs(t *testing.T) {
	for _, s := range grammarSeeds {
		_, ierr := ParseVersion(s)
		_, merr := modref.ParseVersion(s)
		if (ierr == nil) != (merr == nil) || ierr != nil && ierr.Error() != merr.Error() {
			t.Errorf("%q: index says %v, modref %v", s, ierr, merr)
		}
	}
}
