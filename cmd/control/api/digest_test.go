package api

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
)

func TestParseDigest(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	d := DigestOf(sum[:])
	if got, err := ParseDigest(d.String()); err != nil || got != d || d.Algorithm() != "sha256" || len(d.Encoded()) != 64 {
		t.Fatalf("%q: %v", got, err)
	}
	for _, bad := range []string{"", "sha256:", "sha512:" + d.Encoded(), "sha256:" + strings.ToUpper(d.Encoded()), d.String() + "0", "sha256:" + strings.Repeat("g", 64)} {
		if _, err := ParseDigest(bad); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
