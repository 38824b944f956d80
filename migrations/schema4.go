package migrations

import (
	"encoding/binary"
	"errors"

	"github.com/ghost-network/gpmd/index"
	bolt "go.etcd.io/bbolt"
)

// Schema 4 (never released) kept what the parse of each version's bytes
// recorded in a bucket of its own; schema 5 keeps it in the version's own
// value. The bucket's name and value encoding are frozen here, for the
// steps that create and empty it.

// schema4InfoBucket maps name 0x00 <version key> to a schema-4 info value
// (decodeSchema4Info).
var schema4InfoBucket = []byte("info")

// upgradeTo4 creates schema 4's info bucket, empty: step 5 fills every
// version's record (from this bucket where a schema-4 gpmd filled it, by
// parsing its blob otherwise) and removes the bucket. Both run in one
// transaction, so a file never rests at schema 4 through this step.
func upgradeTo4(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(schema4InfoBucket)
	return err
}

var errBadSchema4Info = errors.New("malformed schema-4 info value")

// decodeSchema4Info reads a schema-4 info value: byte 1, then uvarint
// length + bytes of the version as uploaded, of the kind and of the
// refusal, uvarint imports, uvarint exports, and the detail to the end.
// The result is a copy.
func decodeSchema4Info(b []byte) (version string, mi index.ModuleInfo, err error) {
	if len(b) == 0 || b[0] != 1 {
		return "", mi, errBadSchema4Info
	}
	b = b[1:]
	var ss [3]string
	for i := range ss {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", mi, errBadSchema4Info
		}
		ss[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var counts [2]uint64
	for i := range counts {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<32 {
			return "", mi, errBadSchema4Info
		}
		counts[i] = n
		b = b[k:]
	}
	mi = index.ModuleInfo{Kind: ss[1], Refused: ss[2], Imports: int(counts[0]), Exports: int(counts[1])}
	if len(b) > 0 {
		mi.Detail = append([]byte(nil), b...)
	}
	return ss[0], mi, nil
}
