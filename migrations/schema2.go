package migrations

import (
	"github.com/ghost-network/gpmd/index"
	bolt "go.etcd.io/bbolt"
)

// upgradeTo3 adds the tombstones bucket of schema 3 (drawn in index's
// doc.go). Schema 2's buckets and records are schema 3's unchanged, and a
// file upgraded from schema 2 has no tombstones: versions removed before
// the upgrade left none.
func upgradeTo3(tx *bolt.Tx) error {
	return index.CreateTombstonesTx(tx)
}
