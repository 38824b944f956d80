package index

import (
	"fmt"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// Tombstone is what Remove keeps of a removed version, so that the version
// stays immutable: adding it again with the same digest brings it back, with
// another digest fails with errdefs.ErrConflict until the tombstone is
// forgotten (Forget).
type Tombstone struct {
	Name    string        `json:"name"`
	Version string        `json:"version"` // as uploaded
	Digest  digest.Digest `json:"digest"`
	Size    int64         `json:"size"`
	Removed time.Time     `json:"removed"`
}

// tombstoneKey is name 0x00 versionKey: a name never holds 0x00, so the
// prefix name 0x00 selects exactly one name's tombstones.
func tombstoneKey(name string, vkey []byte) []byte {
	k := make([]byte, 0, len(name)+1+len(vkey))
	k = append(k, name...)
	k = append(k, 0)
	return append(k, vkey...)
}

// encodeTombstone is encodeRecord's layout with the removal time in place
// of the creation time.
func encodeTombstone(t Tombstone) []byte {
	return encodeRecord(Record{Version: t.Version, Digest: t.Digest, Size: t.Size, Created: t.Removed})
}

func decodeTombstone(key, val []byte) (Tombstone, error) {
	name := key
	for i, c := range key {
		if c == 0 {
			name = key[:i]
			break
		}
	}
	r, tail, err := decodeRecordTail(string(name), val)
	if err == nil && len(tail) > 0 {
		err = fmt.Errorf("module %s@%s: %w", name, r.Version, errBadRecord)
	}
	if err != nil {
		return Tombstone{}, fmt.Errorf("tombstone: %w", err)
	}
	return Tombstone{Name: r.Name, Version: r.Version, Digest: r.Digest, Size: r.Size, Removed: r.Created}, nil
}

// CreateTombstonesTx creates the tombstones bucket of schema 3 when it does
// not exist yet (the migration to schema 3 calls it).
func CreateTombstonesTx(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketTombstones)
	return err
}

// PutTombstoneTx records t inside tx (a rebuild brings tombstones back from
// the mirror). A version that is stored is not tombstoned: that fails with
// errdefs.ErrConflict. Removed is set to now when zero.
func PutTombstoneTx(tx *bolt.Tx, t Tombstone) error {
	vkey, err := validateRecord(Record{Name: t.Name, Version: t.Version, Digest: t.Digest, Size: t.Size})
	if err != nil {
		return err
	}
	versions, _, err := schemaBuckets(tx)
	if err != nil {
		return err
	}
	if nb := versions.Bucket([]byte(t.Name)); nb != nil && nb.Get(vkey) != nil {
		return fmt.Errorf("tombstone %s@%s: %w: the version is stored", t.Name, t.Version, errdefs.ErrConflict)
	}
	tb := tx.Bucket(bucketTombstones)
	if tb == nil {
		return fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketTombstones)
	}
	if t.Removed.IsZero() {
		t.Removed = time.Now()
	}
	t.Removed = t.Removed.UTC().Round(0)
	return tb.Put(tombstoneKey(t.Name, vkey), encodeTombstone(t))
}

// AddTombstone is PutTombstoneTx in a transaction of its own.
func (db *DB) AddTombstone(t Tombstone) error {
	if err := db.CheckLinked(); err != nil {
		return err
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error { return PutTombstoneTx(tx, t) })
	if err != nil {
		return fmt.Errorf("index %s: %w", db.path, err)
	}
	return nil
}

// Tombstones returns every tombstone, names in order, versions in key
// (semver section) order, from one read transaction.
func (db *DB) Tombstones() ([]Tombstone, error) {
	var out []Tombstone
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		out, err = tombstonesTx(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", db.path, err)
	}
	return out, nil
}

func tombstonesTx(tx *bolt.Tx) ([]Tombstone, error) {
	out := []Tombstone{}
	tb := tx.Bucket(bucketTombstones)
	if tb == nil {
		return nil, fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketTombstones)
	}
	err := tb.ForEach(func(k, v []byte) error {
		t, err := decodeTombstone(k, v)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// Forget removes name@version (semver equality) without keeping a
// tombstone, and drops the version's tombstone if it has one: afterwards
// the version may be uploaded with any bytes. It breaks the immutability
// of the version on purpose (the operator asked for it). removed reports
// the record deleted (found is false when only a tombstone, or nothing,
// was there); remainingRefs is as for Remove. Neither a version nor a
// tombstone: errdefs.ErrNotFound.
func (db *DB) Forget(ref Ref) (removed Record, found bool, remainingRefs int, err error) {
	return db.remove(ref, true)
}
