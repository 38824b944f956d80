package api

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ghost-network/gpmd/errdefs"
)

// Digest is a module's digest as the API writes it: "sha256:" and 64
// lower-case hex digits. It is a plain string the client checks
// (ParseDigest) where it relies on one, so that the command line links no
// digest library.
type Digest string

// digestPrefix is the only algorithm GPMD stores.
const digestPrefix = "sha256:"

// ParseDigest checks s: "sha256:" and 64 lower-case hex digits. The error
// wraps errdefs.ErrInvalid.
func ParseDigest(s string) (Digest, error) {
	hexPart, ok := strings.CutPrefix(s, digestPrefix)
	if !ok || len(hexPart) != 64 {
		return "", fmt.Errorf("digest %q: %w: not sha256: and 64 hex digits", s, errdefs.ErrInvalid)
	}
	for i := 0; i < len(hexPart); i++ {
		if c := hexPart[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", fmt.Errorf("digest %q: %w: not sha256: and 64 lower-case hex digits", s, errdefs.ErrInvalid)
		}
	}
	return Digest(s), nil
}

// DigestOf is the digest of a SHA-256 sum.
func DigestOf(sum []byte) Digest { return Digest(digestPrefix + hex.EncodeToString(sum)) }

// String is the digest as written.
func (d Digest) String() string { return string(d) }

// Algorithm is the part before the colon ("sha256").
func (d Digest) Algorithm() string {
	alg, _, _ := strings.Cut(string(d), ":")
	return alg
}

// Encoded is the part after the colon: the hex digits.
func (d Digest) Encoded() string {
	_, enc, _ := strings.Cut(string(d), ":")
	return enc
}
