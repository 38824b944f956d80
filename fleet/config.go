package fleet

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Defaults and limits of the fleet layer, in one place.
const (
	// DefaultBucket is the JetStream key-value bucket shared by the fleet.
	DefaultBucket = "gpmd_nodes"
	// DefaultExpiry is how long an entry lives in the bucket without a
	// refresh (fleetinfo holds it: the command line shows it as a default).
	DefaultExpiry = fleetinfo.DefaultExpiry
	// MaxExpiry is the longest expiry GMP.md allows ("30 s or less").
	MaxExpiry = 30 * time.Second
	// MinExpiry keeps the heartbeat (Expiry/3) at one second or more; NATS
	// limit markers are kept at one-second granularity.
	MinExpiry = 3 * time.Second
	// MaxValueSize bounds a bucket value; larger values are never parsed.
	MaxValueSize = 4096
	// opTimeout bounds one NATS round trip made by the writer.
	opTimeout = 5 * time.Second
	// maxReconnectWait caps the reconnect backoff.
	maxReconnectWait = 5 * time.Second
)

// Config says how to join a fleet. URLs and Device are required; the rest
// has defaults.
type Config struct {
	// URLs of the NATS servers (nats://host:port, tls://…); a comma list is
	// accepted in each element.
	URLs []string
	// Device is this device's name (GMP.md: 1–64 of A–Z a–z 0–9 . _ -,
	// beginning with a letter or digit).
	Device string
	// Advertise is the address (IP or host name) at which this device's
	// nodes are reached by other devices. It is sent as NODE's address.
	Advertise string
	// TokenFile holds a NATS token (surrounding white space trimmed).
	TokenFile string
	// CredsFile is a NATS credentials file (JWT + nkey seed).
	CredsFile string
	// TLSCA is a PEM file of CAs that sign the server certificate; TLSCert
	// and TLSKey, both or neither, are the client certificate.
	TLSCA, TLSCert, TLSKey string
	// Bucket is the key-value bucket; DefaultBucket when empty.
	Bucket string
	// Expiry is the bucket's max age (DefaultExpiry when zero; MinExpiry to
	// MaxExpiry). The heartbeat is Expiry/3.
	Expiry time.Duration
	// Version is written into the device entry (e.g. "1.0.0").
	Version string
	// Logger receives connection changes and rejected entries; slog.Default
	// when nil.
	Logger *slog.Logger
	// OnEvent, when set, is called for every change of a remote node (see
	// [Event]). It runs on the watcher goroutine, in order, and must not
	// block: hand the event to a bounded queue.
	OnEvent func(Event)
}

// withDefaults returns c with its defaults filled in, or an error wrapping
// errdefs.ErrInvalid that names the bad setting.
func (c Config) withDefaults() (Config, error) {
	var urls []string
	for _, u := range c.URLs {
		for p := range strings.SplitSeq(u, ",") {
			if p = strings.TrimSpace(p); p != "" {
				urls = append(urls, p)
			}
		}
	}
	c.URLs = urls
	if len(c.URLs) == 0 {
		return c, fmt.Errorf("fleet: no NATS URL: %w", errdefs.ErrInvalid)
	}
	if !ValidName(c.Device) {
		return c, fmt.Errorf("fleet: device %q: 1–64 of A–Z a–z 0–9 . _ -, beginning with a letter or digit: %w", c.Device, errdefs.ErrInvalid)
	}
	if !validAddress(c.Advertise) {
		return c, fmt.Errorf("fleet: advertised address %q is not an IP address or host name: %w", c.Advertise, errdefs.ErrInvalid)
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if !validBucket(c.Bucket) {
		return c, fmt.Errorf("fleet: bucket %q: letters, digits, - and _ only: %w", c.Bucket, errdefs.ErrInvalid)
	}
	if c.Expiry == 0 {
		c.Expiry = DefaultExpiry
	}
	if c.Expiry < MinExpiry || c.Expiry > MaxExpiry {
		return c, fmt.Errorf("fleet: expiry %s: must be %s to %s: %w", c.Expiry, MinExpiry, MaxExpiry, errdefs.ErrInvalid)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, fmt.Errorf("fleet: a TLS client certificate needs both its certificate and its key: %w", errdefs.ErrInvalid)
	}
	// Fail fast on files that cannot be read, before anything connects.
	for _, f := range []string{c.TokenFile, c.CredsFile, c.TLSCA, c.TLSCert, c.TLSKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return c, fmt.Errorf("fleet: %w: %w", err, errdefs.ErrInvalid)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Heartbeat is how often a Fleet rewrites its entries: a third of the
// expiry, so two refreshes may be lost before an entry expires.
func (c Config) Heartbeat() time.Duration { return c.Expiry / 3 }

// ValidName reports whether s is a valid node or device name (GMP.md's
// rule, wire.ValidNodeName).
func ValidName(s string) bool { return wire.ValidNodeName(s) }

// validAddress accepts an IP address or a DNS host name (RFC 1123 labels).
func validAddress(s string) bool {
	if net.ParseIP(s) != nil {
		return true
	}
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

// validBucket is nats.go's bucket name rule.
func validBucket(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
