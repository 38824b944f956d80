package index

import (
	"strings"
	"testing"
)

// TestParseNameNamesTheCharacter: a non-ASCII character is named whole
// ('ä'), never as one byte of its encoding ('Ã').
func TestParseNameNamesTheCharacter(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"mäth", "'ä' at offset 1"},
		{"Äbc", "begins with 'Ä'"},
		{"a\xffb", `'\xff' at offset 1`},
		{"ab c", "' ' at offset 2"},
		{"emoji🙂", "'🙂' at offset 5"},
	} {
		err := validateName(tc.name)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validateName(%q) = %v, want it to say %s", tc.name, err, tc.want)
		}
	}
}
