package modref

import (
	"errors"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
)

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion("v1.20.3-rc.1+b7")
	if err != nil || v.Major != 1 || v.Minor != 20 || v.Patch != 3 || v.Pre != "rc.1" || v.Build != "b7" ||
		v.Original != "v1.20.3-rc.1+b7" || v.Canonical() != "1.20.3-rc.1+b7" {
		t.Fatalf("%+v %v", v, err)
	}
	for in, want := range map[string]string{
		"1.2":                        `version "1.2": invalid: it has no patch part; an uploaded version is a full semantic version MAJOR.MINOR.PATCH (use a full version such as v1.2.0)`,
		"v1":                         `version "v1": invalid: it has no minor and patch parts;`,
		"1.02.3":                     `(version segment starts with 0; use a full version such as v1.2.0)`,
		"1.2.3-a..b":                 `(invalid prerelease string;`,
		"1.2.3-18446744073709551616": `numeric pre-release identifier 18446744073709551616 does not fit in 64 bits`,
		"18446744073709551616.0.0":   `strconv.ParseUint: parsing "18446744073709551616": value out of range`,
	} {
		_, err := ParseVersion(in)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it to say %s", in, err, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	if err := CheckName("math_2-x"); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"":         "(it has 0)",
		"Bad.Name": "it begins with 'B'",
		"bad.name": "'.' at offset 3 is not allowed",
		"bä":       "'ä' at offset 1",
	} {
		if err := CheckName(in); !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want it to say %s", in, err, want)
		}
	}
	if err := CheckRef("Bad", "nope"); err == nil || !strings.Contains(err.Error(), "module name") {
		t.Errorf("CheckRef checks the name first: %v", err)
	}
}
