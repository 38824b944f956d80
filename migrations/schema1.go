package migrations

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// Schema 1, the first draft of the index (drawn in doc.go): a flat bucket
// of "name@version" keys, the version as uploaded, and JSON values.
var schema1Modules = []byte("modules")

// schema1Value is the JSON value of a schema-1 key.
type schema1Value struct {
	Version string        `json:"version"`
	Digest  digest.Digest `json:"digest"`
	Size    int64         `json:"size"`
	Created time.Time     `json:"created"`
}

// upgradeTo2 moves every schema-1 record into schema 2 through
// index.PutTx, then deletes the flat bucket.
//
// Schema 1 keyed versions by their text, so "1.0.0" and "v1.0.0" could
// both be there: with the same digest they become one version (the first
// in key order keeps its spelling); with different digests, or with a
// record that breaks schema 2's rules, the step fails, naming every such
// record, and the whole upgrade rolls back: it never drops a record
// silently. The way out is to rebuild the index from ghost.modules.json.
//
// A record without a created time gets the time of the upgrade.
//
// PutTx writes the current schema's records. Schema 3 only added the
// tombstones bucket, which PutTx consults when it exists and which this
// step does not create (CreateBucketsTx makes schema 2's buckets), so this
// step still produces schema 2; the step to 3 follows in the same
// transaction. When a schema changes the records, copy the schema-2
// writer here first.
func upgradeTo2(tx *bolt.Tx) error {
	if err := index.CreateBucketsTx(tx); err != nil {
		return err
	}
	old := tx.Bucket(schema1Modules)
	if old == nil {
		return nil // a schema-1 file that never held a module
	}
	var problems errorList
	err := old.ForEach(func(k, v []byte) error {
		rec, err := decodeSchema1(k, v)
		var e index.Entry
		if err == nil {
			// An older file is untrusted input: ParseRecord is its
			// boundary check, and PutTx trusts what it returns.
			e, err = index.ParseRecord(rec)
		}
		if err == nil {
			_, _, err = index.PutTx(tx, e)
		}
		if err != nil {
			problems = append(problems, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d schema-1 record(s) cannot be carried over (nothing was changed; rebuild the index from ghost.modules.json to leave them out): %w",
			len(problems), problems)
	}
	return tx.DeleteBucket(schema1Modules)
}

// errorList is several errors on one line; errors.Is sees each.
type errorList []error

func (l errorList) Error() string {
	s := make([]string, len(l))
	for i, err := range l {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (l errorList) Unwrap() []error { return l }

func decodeSchema1(k, v []byte) (index.Record, error) {
	name, ver, ok := strings.Cut(string(k), "@")
	if !ok {
		return index.Record{}, fmt.Errorf("key %q: %w: not name@version", k, errdefs.ErrInvalid)
	}
	var val schema1Value
	if err := json.Unmarshal(v, &val); err != nil {
		return index.Record{}, fmt.Errorf("key %q: %w: value is not the schema-1 JSON (%v)", k, errdefs.ErrInvalid, err)
	}
	if val.Version != ver {
		return index.Record{}, fmt.Errorf("key %q: %w: value names version %q", k, errdefs.ErrInvalid, val.Version)
	}
	return index.Record{Name: name, Version: ver, Digest: val.Digest, Size: val.Size, Created: val.Created}, nil
}
