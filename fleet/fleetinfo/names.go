package fleetinfo

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// CheckDevice says what is wrong with s as this device's name (GMP.md's
// rule, the one the bucket's keys are made of), naming the first character
// that breaks it; nil when s is a device name. The message does not repeat
// s: the caller names it. `gpmd start --device` and
// New both check with it.
func CheckDevice(s string) error {
	if wire.ValidNodeName(s) {
		return nil
	}
	const rule = "a device name is 1-64 characters of A-Z a-z 0-9 . _ -, beginning with a letter or digit"
	switch {
	case s == "":
		return errors.New("empty: " + rule)
	case len(s) > 64:
		return fmt.Errorf("%d bytes long: %s", len(s), rule)
	}
	for i, r := range s {
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '.' || r == '_' || r == '-'))
		if !ok {
			return fmt.Errorf("%q is not allowed there: %s", r, rule)
		}
	}
	return errors.New(rule) // not reached: ValidNodeName said no
}

// CheckAdvertise says what is wrong with s as the address at which other
// devices reach this device's nodes, or nil: an IP address or a DNS host
// name, without a port (each node is reached at its own port), and not
// the unspecified address (0.0.0.0, ::), which names no device. The
// message does not repeat s: the caller names it. `gpmd
// start --advertise`, New and the watcher (for other devices' entries)
// all check with it.
func CheckAdvertise(s string) error {
	const want = "give the IP address or host name at which other devices reach this one"
	if s == "" {
		return errors.New("empty: " + want)
	}
	if ip := net.ParseIP(s); ip != nil {
		if ip.IsUnspecified() {
			return errors.New("the unspecified address, which no other device can reach: " + want)
		}
		return nil
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return errors.New("no host: " + want)
		}
		return fmt.Errorf("a port (%s): %s, without a port (each node is reached at its own port)", port, want)
	}
	if !validHostName(s) {
		return errors.New("not an IP address or host name: " + want)
	}
	return nil
}

// validHostName accepts a DNS host name (RFC 1123 labels).
func validHostName(s string) bool {
	if len(s) < 1 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) < 1 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
