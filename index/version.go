package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/modref"
)

// MaxNameLen is the longest module name GMP allows.
const MaxNameLen = modref.MaxNameLen

// validateName checks a module name against GMP.md's rule, with
// modref's message (the grammar's one home). ParseName is its one caller.
func validateName(name string) error { return modref.CheckName(name) }

// ParseVersion parses an uploaded version: a full semantic version
// MAJOR.MINOR.PATCH with one optional leading v, optional pre-release and
// build parts. "1" or "1.2" fail with a hint. Numeric pre-release
// identifiers must fit in 64 bits (semver compares them as numbers; the
// index keys store them in 8 bytes). The error wraps errdefs.ErrInvalid.
//
// The returned version's Original() is v as given.
func ParseVersion(v string) (Version, error) {
	sv, err := parseSemver(v)
	if err != nil {
		return Version{}, err
	}
	return Version{sv: sv}, nil
}

// parseSemver is ParseVersion's rule, returning the semver value whose
// Original() is v. The grammar and its messages are modref's, so the
// command line (which links no semver) refuses with the same words; the
// value is semver's. FuzzVersionGrammar proves the two accept the same
// strings.
func parseSemver(v string) (*semver.Version, error) {
	if _, err := modref.ParseVersion(v); err != nil {
		return nil, err
	}
	sv, err := semverOf(v)
	if err != nil {
		// Unreachable while FuzzVersionGrammar holds; refused all the same.
		return nil, fmt.Errorf("version %q: %w: not a semantic version (%v; %s)", v, errdefs.ErrInvalid, err, "use a full version such as v1.2.0")
	}
	return sv, nil
}

// semverOf is semver's own parse of an uploaded version: strict, with one
// optional leading v kept in Original().
func semverOf(v string) (*semver.Version, error) {
	bare := strings.TrimPrefix(v, "v")
	sv, err := semver.StrictNewVersion(bare)
	if err != nil || bare == v {
		return sv, err
	}
	// Keep Original() as uploaded. The strict parse above already vetted
	// the text; NewVersion reads the same numbers from it.
	withV, err := semver.NewVersion(v)
	if err != nil {
		return nil, err
	}
	if !withV.Equal(sv) || withV.Metadata() != sv.Metadata() {
		return nil, fmt.Errorf("%s reads as %s with its v", sv, withV)
	}
	return withV, nil
}

// Version keys. See doc.go for the layout; in short, within one section
// the bytewise order of keys is the semver order of versions, and the
// release section sorts after the pre-release section so that the last key
// of a name's bucket is its highest release.
const (
	sectionPre     byte = 0x01
	sectionRelease byte = 0x02

	identEnd     byte = 0x00
	identNumeric byte = 0x01
	identAlnum   byte = 0x02

	coreLen = 1 + 3*8 // section byte + major, minor, patch
)

// versionKey encodes v (already validated by ParseVersion) as a sortable
// key. Build metadata is not part of it: versions equal as semver have
// equal keys.
func versionKey(v *semver.Version) []byte {
	pre := v.Prerelease()
	n := coreLen
	if pre != "" {
		n += len(pre) + 10*(strings.Count(pre, ".")+1) + 1
	}
	k := make([]byte, 0, n)
	if pre == "" {
		k = append(k, sectionRelease)
	} else {
		k = append(k, sectionPre)
	}
	k = binary.BigEndian.AppendUint64(k, v.Major())
	k = binary.BigEndian.AppendUint64(k, v.Minor())
	k = binary.BigEndian.AppendUint64(k, v.Patch())
	if pre == "" {
		return k
	}
	for _, id := range strings.Split(pre, ".") {
		if modref.IsNumeric(id) {
			// ParseVersion refused numbers over 64 bits.
			u, _ := strconv.ParseUint(id, 10, 64)
			k = append(k, identNumeric)
			k = binary.BigEndian.AppendUint64(k, u)
			continue
		}
		// Identifiers are [0-9A-Za-z-]: never 0x00, so the terminator
		// sorts a prefix ("alpha") before its extensions ("alphab").
		k = append(k, identAlnum)
		k = append(k, id...)
		k = append(k, identEnd)
	}
	return append(k, identEnd)
}

var errBadKey = errors.New("malformed version key")

// parseKey decodes a version key into a semver version without build
// metadata. It is the inverse of versionKey.
func parseKey(k []byte) (*semver.Version, error) {
	if len(k) < coreLen || (k[0] != sectionPre && k[0] != sectionRelease) {
		return nil, fmt.Errorf("%w %x", errBadKey, k)
	}
	major := binary.BigEndian.Uint64(k[1:9])
	minor := binary.BigEndian.Uint64(k[9:17])
	patch := binary.BigEndian.Uint64(k[17:25])
	rest := k[coreLen:]
	if k[0] == sectionRelease {
		if len(rest) != 0 {
			return nil, fmt.Errorf("%w %x", errBadKey, k)
		}
		return semver.New(major, minor, patch, "", ""), nil
	}
	var pre strings.Builder
	for {
		if len(rest) == 0 {
			return nil, fmt.Errorf("%w %x: no end marker", errBadKey, k)
		}
		tag := rest[0]
		rest = rest[1:]
		if tag == identEnd {
			break
		}
		if pre.Len() > 0 {
			pre.WriteByte('.')
		}
		switch tag {
		case identNumeric:
			if len(rest) < 8 {
				return nil, fmt.Errorf("%w %x", errBadKey, k)
			}
			pre.WriteString(strconv.FormatUint(binary.BigEndian.Uint64(rest[:8]), 10))
			rest = rest[8:]
		case identAlnum:
			end := bytes.IndexByte(rest, identEnd)
			if end <= 0 {
				return nil, fmt.Errorf("%w %x", errBadKey, k)
			}
			pre.Write(rest[:end])
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("%w %x", errBadKey, k)
		}
	}
	if len(rest) != 0 || pre.Len() == 0 {
		return nil, fmt.Errorf("%w %x", errBadKey, k)
	}
	return semver.New(major, minor, patch, pre.String(), ""), nil
}

// compareKeys orders two version keys of any sections as semver orders
// their versions. Within one section it is bytes.Compare; across sections
// the core (major, minor, patch) decides, and on an equal core the release
// is higher than any of its pre-releases.
func compareKeys(a, b []byte) int {
	if a[0] == b[0] {
		return bytes.Compare(a, b)
	}
	if c := bytes.Compare(a[1:coreLen], b[1:coreLen]); c != 0 {
		return c
	}
	if a[0] == sectionRelease {
		return 1
	}
	return -1
}
