package index

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/modref"
)

func TestParseName(t *testing.T) {
	good := []string{"a", "math", "tiny", "a-b_c", "z9", strings.Repeat("m", 64)}
	for _, n := range good {
		if err := validateName(n); err != nil {
			t.Errorf("validateName(%q) = %v, want nil", n, err)
		}
	}
	bad := []string{"", "9lives", "_x", "-x", "Math", "ma.th", "m th", "m/x", "é", strings.Repeat("m", 65), "a\x00"}
	for _, n := range bad {
		err := validateName(n)
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("validateName(%q) = %v, want errdefs.ErrInvalid", n, err)
			continue
		}
		// The error names the value and the rule.
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", n)) || !strings.Contains(err.Error(), "beginning with a letter") {
			t.Errorf("validateName(%q) error %q does not name the value and the rule", n, err)
		}
	}
}

func TestParseVersion(t *testing.T) {
	good := map[string]string{ // input -> canonical String()
		"1.2.3":                    "1.2.3",
		"v1.2.3":                   "1.2.3",
		"v0.0.1":                   "0.0.1",
		"1.0.0-alpha.1":            "1.0.0-alpha.1",
		"v1.0.0-rc.1+build.7":      "1.0.0-rc.1+build.7",
		"1.0.0+build7":             "1.0.0+build7",
		"18446744073709551615.0.0": "18446744073709551615.0.0",
	}
	for in, want := range good {
		v, err := ParseVersion(in)
		if err != nil {
			t.Errorf("ParseVersion(%q) = %v", in, err)
			continue
		}
		if v.String() != want || v.Original() != in {
			t.Errorf("ParseVersion(%q) = %q (original %q), want %q (original %q)", in, v.String(), v.Original(), want, in)
		}
	}
	short := []string{"1", "1.2", "v1", "v1.2", "1.2-rc.1"}
	for _, in := range short {
		_, err := ParseVersion(in)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "use a full version such as v1.2.0") || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseVersion(%q) = %v, want errdefs.ErrInvalid naming it with the hint", in, err)
		}
	}
	bad := []string{"", "v", "vv1.2.3", "V1.2.3", "latest", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01",
		"1.2.3-a..b", "1.2.3+", "1.2.3-α", " 1.2.3", "^1.2.3", "1.2.3-18446744073709551616", "18446744073709551616.0.0"}
	for _, in := range bad {
		if _, err := ParseVersion(in); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParseVersion(%q) = %v, want errdefs.ErrInvalid", in, err)
		}
	}
}

// randVersion draws from small pools so that equal cores and shared
// identifier prefixes are common, plus the extremes of each field.
func randVersion(r *rand.Rand) string {
	num := func() uint64 {
		switch r.IntN(8) {
		case 0:
			return math.MaxUint64
		case 1:
			return 1<<63 + uint64(r.IntN(3))
		case 2:
			return uint64(r.IntN(300))
		default:
			return uint64(r.IntN(3))
		}
	}
	var sb strings.Builder
	if r.IntN(3) == 0 {
		sb.WriteByte('v')
	}
	fmt.Fprintf(&sb, "%d.%d.%d", num(), num(), num())
	if r.IntN(3) > 0 {
		n := 1 + r.IntN(4)
		for i := 0; i < n; i++ {
			if i == 0 {
				sb.WriteByte('-')
			} else {
				sb.WriteByte('.')
			}
			if r.IntN(2) == 0 {
				fmt.Fprintf(&sb, "%d", num())
				continue
			}
			const letters = "abAB-z0129"
			l := 1 + r.IntN(4)
			id := make([]byte, l)
			for j := range id {
				id[j] = letters[r.IntN(len(letters))]
			}
			if modref.IsNumeric(string(id)) {
				id[r.IntN(l)] = "aZ-"[r.IntN(3)]
			}
			sb.Write(id)
		}
	}
	if r.IntN(4) == 0 {
		fmt.Fprintf(&sb, "+b%d", r.IntN(3))
	}
	return sb.String()
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// TestVersionKeyOrder is the property the schema rests on: for many random
// pairs, compareKeys agrees with semver.Compare, bytes.Compare agrees
// within a section, equal keys mean equal versions, and parseKey inverts
// versionKey.
func TestVersionKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 3000
	vs := make([]*semver.Version, n)
	keys := make([][]byte, n)
	for i := range vs {
		s := randVersion(r)
		v, err := ParseVersion(s)
		if err != nil {
			t.Fatalf("ParseVersion(%q): %v", s, err)
		}
		vs[i], keys[i] = v.sv, versionKey(v.sv)
		back, err := parseKey(keys[i])
		if err != nil {
			t.Fatalf("parseKey(versionKey(%q)): %v", s, err)
		}
		if back.Compare(v.sv) != 0 || back.Prerelease() != v.sv.Prerelease() {
			t.Fatalf("parseKey(versionKey(%q)) = %q", s, back)
		}
	}
	equalPairs, crossPairs := 0, 0
	for i := 0; i < n; i++ {
		for j := i; j < n; j += 1 + r.IntN(7) {
			want := vs[i].Compare(vs[j])
			if got := sign(compareKeys(keys[i], keys[j])); got != want {
				t.Fatalf("compareKeys(%q, %q) = %d, semver says %d", vs[i].Original(), vs[j].Original(), got, want)
			}
			if keys[i][0] == keys[j][0] {
				if got := sign(bytes.Compare(keys[i], keys[j])); got != want {
					t.Fatalf("bytes.Compare of keys of %q, %q = %d, semver says %d", vs[i].Original(), vs[j].Original(), got, want)
				}
			} else {
				crossPairs++
			}
			if (want == 0) != bytes.Equal(keys[i], keys[j]) {
				t.Fatalf("%q and %q: semver equal %v, keys equal %v", vs[i].Original(), vs[j].Original(), want == 0, bytes.Equal(keys[i], keys[j]))
			}
			if want == 0 && i != j {
				equalPairs++
			}
		}
	}
	// The generator must actually reach the interesting cases.
	if equalPairs == 0 || crossPairs == 0 {
		t.Fatalf("weak sample: %d equal pairs, %d cross-section pairs", equalPairs, crossPairs)
	}
}

func TestVersionKeyExamples(t *testing.T) {
	// Ascending by semver precedence (semver.org §11), each pair checked.
	asc := []string{
		"1.0.0-0", "1.0.0-1", "1.0.0-2", "1.0.0-10", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
		"1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1-0", "1.0.1", "1.1.0", "2.0.0-rc.1", "2.0.0",
	}
	for i := 0; i+1 < len(asc); i++ {
		a, b := versionKey(mustParse(t, asc[i])), versionKey(mustParse(t, asc[i+1]))
		if compareKeys(a, b) >= 0 || compareKeys(b, a) <= 0 {
			t.Errorf("want %s < %s", asc[i], asc[i+1])
		}
	}
	for _, eq := range [][]string{{"v1.0.0", "1.0.0", "1.0.0+build7", "v1.0.0+x.y"}, {"1.0.0-rc.1", "v1.0.0-rc.1+b"}} {
		for _, s := range eq[1:] {
			if !bytes.Equal(versionKey(mustParse(t, eq[0])), versionKey(mustParse(t, s))) {
				t.Errorf("keys of %s and %s differ", eq[0], s)
			}
		}
	}
}

func TestParseKeyRejectsGarbage(t *testing.T) {
	k := versionKey(mustParse(t, "1.2.3-alpha.7"))
	for _, bad := range [][]byte{nil, {0x02}, k[:len(k)-1], append(append([]byte{}, k...), 0), {0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, err := parseKey(bad); !errors.Is(err, errBadKey) {
			t.Errorf("parseKey(%x) = %v, want errBadKey", bad, err)
		}
	}
}

func mustParse(t testing.TB, s string) *semver.Version {
	t.Helper()
	v, err := ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v.sv
}

// TestLaterLatest: a release beats every pre-release, whatever their
// numbers; otherwise semver precedence decides, build metadata ignored.
func TestLaterLatest(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"1.0.0", "2.0.0-rc.1", true},
		{"2.0.0-rc.1", "1.0.0", false},
		{"1.10.0", "1.9.0", true},
		{"1.0.0-rc.10", "1.0.0-rc.9", true},
		{"1.0.0-alpha", "1.0.0-alpha.1", false},
		{"1.0.0+b2", "1.0.0+b1", false},
		{"1.0.0", "1.0.0", false},
	} {
		a, errA := ParseVersion(c.a)
		b, errB := ParseVersion(c.b)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if got := a.LaterLatest(b); got != c.want {
			t.Errorf("%s.LaterLatest(%s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
