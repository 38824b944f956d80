package fleet

import (
	"testing"
	"time"

	"github.com/ghost-network/gpmd/fleet/fleetinfo"
)

// TestBucketTTLUnderExpiry: the bucket drops an entry ExpiryMargin before
// the documented expiry, and a live device refreshes three times within
// the bucket's max age, for every expiry the settings allow.
func TestBucketTTLUnderExpiry(t *testing.T) {
	for _, e := range []time.Duration{MinExpiry, fleetinfo.DefaultExpiry, MaxExpiry} {
		c := Config{Expiry: e}
		bc := BucketConfig("b", e)
		if c.BucketTTL() != e-ExpiryMargin || bc.TTL != c.BucketTTL() {
			t.Errorf("expiry %s: bucket TTL %s, config %s", e, bc.TTL, c.BucketTTL())
		}
		if 3*c.Heartbeat() > c.BucketTTL() || c.Heartbeat() <= 0 {
			t.Errorf("expiry %s: heartbeat %s does not fit three times in %s", e, c.Heartbeat(), c.BucketTTL())
		}
		if bc.LimitMarkerTTL < time.Second {
			t.Errorf("expiry %s: limit markers of %s (the server wants a second or more)", e, bc.LimitMarkerTTL)
		}
	}
}
