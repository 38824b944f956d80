package fleet

import (
	"fmt"
	"log/slog"
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
	// it stops refreshing them (fleetinfo.DefaultExpiry when zero; MinExpiry to
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
	if err := fleetinfo.CheckDevice(c.Device); err != nil {
		return c, fmt.Errorf("fleet: device %q: %w: %w", c.Device, err, errdefs.ErrInvalid)
	}
	if err := fleetinfo.CheckAdvertise(c.Advertise); err != nil {
		return c, fmt.Errorf("fleet: advertised address %q: %w: %w", c.Advertise, err, errdefs.ErrInvalid)
	}
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if !validBucket(c.Bucket) {
		return c, fmt.Errorf("fleet: bucket %q: letters, digits, - and _ only: %w", c.Bucket, errdefs.ErrInvalid)
	}
	if c.Expiry == 0 {
		c.Expiry = fleetinfo.DefaultExpiry
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
