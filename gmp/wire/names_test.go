package wire

import (
	"strings"
	"testing"
)

func TestNamingRules(t *testing.T) {
	for s, want := range map[string]bool{
		"node-1": true, "N.1_x-y": true, "9lives": true, strings.Repeat("a", 64): true,
		"": false, ".node": false, "-node": false, "_node": false, strings.Repeat("a", 65): false,
		"nœud": false, "node 1": false, "node@dev": false,
	} {
		if got := ValidNodeName(s); got != want {
			t.Errorf("ValidNodeName(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]bool{
		"a1": true, " ~": true, strings.Repeat("x", 128): true,
		"": false, strings.Repeat("x", 129): false, "tab\t": false, "é": false,
	} {
		if got := ValidNodeID(s); got != want {
			t.Errorf("ValidNodeID(%q) = %v, want %v", s, got, want)
		}
	}
	for p, want := range map[int64]bool{1: true, 65535: true, 0: false, 65536: false, -1: false} {
		if got := ValidPort(p); got != want {
			t.Errorf("ValidPort(%d) = %v, want %v", p, got, want)
		}
	}
}
