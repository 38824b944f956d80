package fleetinfo

import (
	"strings"
	"testing"
)

// TestCheckDeviceAndAdvertise: the rules `gpmd start` checks its flags
// with, New checks its config with, and the watcher checks other devices'
// entries with.
func TestCheckDeviceAndAdvertise(t *testing.T) {
	for _, ok := range []string{"d", "kitchen", "lab.1", "Pi_4-b", "0dev", strings.Repeat("d", 64)} {
		if err := CheckDevice(ok); err != nil {
			t.Errorf("device %q: %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"":                      "empty",
		"-lab":                  `'-'`,
		".lab":                  `'.'`,
		"kitchen pi":            `' '`,
		"küche":                 `'ü'`,
		"lab@1":                 `'@'`,
		"a=b":                   `'='`, // '=' is how keys escape '.'
		strings.Repeat("d", 65): "65 bytes",
	} {
		err := CheckDevice(bad)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("device %q: %v, want it to say %s", bad, err, says)
		}
	}
	for _, ok := range []string{"127.0.0.2", "10.0.0.5", "fe80::1", "::1", "pi.local", "kitchen", "a-b.example.com"} {
		if err := CheckAdvertise(ok); err != nil {
			t.Errorf("advertise %q: %v", ok, err)
		}
	}
	for bad, says := range map[string]string{
		"":                "empty",
		"0.0.0.0":         "unspecified",
		"::":              "unspecified",
		"0:0:0:0:0:0:0:0": "unspecified",
		":7000":           "no host",
		"10.0.0.5:0":      "without a port",
		"10.0.0.5:7000":   "without a port",
		"[fe80::1]:7000":  "without a port",
		"pi local":        "not an IP address or host name",
		"-pi":             "not an IP address or host name",
		"pi..local":       "not an IP address or host name",
	} {
		err := CheckAdvertise(bad)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("advertise %q: %v, want it to say %s", bad, err, says)
		}
	}
}
