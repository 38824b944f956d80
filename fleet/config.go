package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Defaults and limits of the fleet layer, in one place.
const (
	// DefaultBucket is the JetStream key-value bucket shared by the fleet.
	DefaultBucket = "gpmd_nodes"
	// DefaultExpiry is the documented expiry: a killed device's nodes
	// leave every other device within it of the kill.
	DefaultExpiry = 15 * time.Second
	// MaxExpiry is the longest expiry GMP.md allows ("30 s or less").
	MaxExpiry = 30 * time.Second
	// MinExpiry keeps the bucket's max age (Expiry - ExpiryMargin) at two
	// seconds or more: limit markers, which tell watchers of an expiry,
	// live for whole seconds, and a heartbeat of two thirds of a second
	// is as often as a device of 1,000 nodes should rewrite them.
	MinExpiry = 3 * time.Second
	// ExpiryMargin is how much sooner than the expiry the bucket drops an
	// entry that is not refreshed: the NATS server removes an entry past
	// its max age only when its expiry timer next runs (at least 250 ms
	// apart, reading a clock that ticks every 100 ms; measured 0.25-0.31 s
	// late), and the delete then travels to every watcher. The margin
	// absorbs both, with room for a loaded machine, so that a dead
	// device's nodes are gone within the expiry itself, not just after it.
	ExpiryMargin = time.Second
	// MaxValueSize bounds a bucket value; larger values are never parsed.
	MaxValueSize = 4096
	// opTimeout bounds one NATS round trip made by the writer.
	opTimeout = 5 * time.Second
	// sweepEvery is how often the local sweep runs (a quarter of the
	// ExpiryMargin, so the sweep's own delay stays well inside it).
	sweepEvery = ExpiryMargin / 4
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
	// Expiry is the longest a dead device's nodes stay in the fleet after
	// it stops refreshing them (DefaultExpiry when zero; MinExpiry to
	// MaxExpiry). The bucket's max age is ExpiryMargin less (BucketTTL),
	// and the heartbeat a third of that.
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
	if err := CheckDevice(c.Device); err != nil {
		return c, fmt.Errorf("fleet: device %q: %w: %w", c.Device, err, errdefs.ErrInvalid)
	}
	if err := CheckAdvertise(c.Advertise); err != nil {
		return c, fmt.Errorf("fleet: advertised address %q: %w: %w", c.Advertise, err, errdefs.ErrInvalid)
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

// BucketTTL is the max age of the bucket's entries: the expiry less
// ExpiryMargin, so that an entry not refreshed has left every watcher by
// the expiry (see ExpiryMargin).
func (c Config) BucketTTL() time.Duration { return bucketTTL(c.Expiry) }

func bucketTTL(expiry time.Duration) time.Duration { return expiry - ExpiryMargin }

// Heartbeat is how often a Fleet rewrites its entries: a third of the
// bucket's max age, so two refreshes may be lost before a live device's
// entry expires.
func (c Config) Heartbeat() time.Duration { return c.BucketTTL() / 3 }

// ValidName reports whether s is a valid node or device name (GMP.md's
// rule, wire.ValidNodeName).
func ValidName(s string) bool { return wire.ValidNodeName(s) }

// CheckDevice says what is wrong with s as this device's name (GMP.md's
// rule, the one the bucket's keys are made of), naming the first character
// that breaks it; nil when s is a device name. The message does not repeat
// s: the caller names it. `gpmd start --device` and
// New both check with it.
func CheckDevice(s string) error {
	if ValidName(s) {
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
	return errors.New(rule) // not reached: ValidName said no
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
