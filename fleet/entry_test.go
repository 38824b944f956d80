package fleet

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

func TestValueSizeLimit(t *testing.T) {
	pk := parsedKey{device: "d", node: "n"}
	n := fleetinfo.RemoteNode{Name: "n", ID: "i", Device: "d", Address: "127.0.0.1", Port: 1}
	b, _ := json.Marshal(n)
	if _, err := parseNode(pk, b); err != nil {
		t.Fatal(err)
	}
	// Padded with white space past the limit: refused before parsing.
	big := append(b, []byte(strings.Repeat(" ", MaxValueSize))...)
	if _, err := parseNode(pk, big); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("oversized value: %v", err)
	}
}

// FuzzParseEntry: no key or value panics the parsers, and whatever they
// accept follows the rules and maps back to the same key.
func FuzzParseEntry(f *testing.F) {
	good, _ := json.Marshal(fleetinfo.RemoteNode{Name: "n.1", ID: "i", Device: "d.1", Address: "10.0.0.1", Port: 80})
	f.Add("d=1.n=1", good)
	f.Add("d=1._device", []byte(`{"device":"d.1","address":"h","version":"1"}`))
	f.Add("a.b.c", []byte(`{}`))
	f.Add("x", []byte(`nul`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		pk, err := parseKey(key)
		if err != nil {
			return
		}
		if !ValidName(pk.device) || (pk.node != "" && !ValidName(pk.node)) {
			t.Fatalf("accepted names %+v", pk)
		}
		if pk.node == "" {
			if deviceKey(pk.device) != key {
				t.Fatalf("device key %q does not round-trip", key)
			}
			if d, err := parseDevice(pk, value); err == nil && d.Device != pk.device {
				t.Fatalf("device %q under key %q", d.Device, key)
			}
			return
		}
		if nodeKey(pk.device, pk.node) != key {
			t.Fatalf("node key %q does not round-trip", key)
		}
		n, err := parseNode(pk, value)
		if err != nil {
			return
		}
		if n.Device != pk.device || n.Name != pk.node || n.Port < 1 || n.Port > 65535 || !wire.ValidNodeID(n.ID) {
			t.Fatalf("accepted %+v under %q", n, key)
		}
	})
}
