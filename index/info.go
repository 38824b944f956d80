package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
	bolt "go.etcd.io/bbolt"
)

// bucketInfo (schema 4) maps infoKey(name, version key) to an info value
// (encodeInfo): what the parse of a version's bytes recorded.
var bucketInfo = []byte("info")

// ModuleInfo is what the structural parse of a version's bytes recorded:
// the few fields that listings show, and the parser's whole record in its
// own encoding (package wasm owns it; the index keeps it opaque), or the
// parser's refusal of bytes stored before uploads were parsed.
type ModuleInfo struct {
	Version string // the version as uploaded (filled by the index)
	Kind    string // "module" or "component"; "" when Refused
	Imports int
	Exports int
	// Refused is the parser's one-line message when it refused the stored
	// bytes; Detail is nil then.
	Refused string
	// Detail is wasm.Info's binary encoding (wasm.Info.MarshalBinary).
	Detail []byte
}

// infoEncoding is the first byte of every info value; a value of another
// encoding is damage (a newer schema would have a migration).
const infoEncoding = 1

// infoKey is name 0x00 version key: a name holds no 0x00.
func infoKey(name string, vkey []byte) []byte {
	k := make([]byte, 0, len(name)+1+len(vkey))
	k = append(k, name...)
	k = append(k, 0)
	return append(k, vkey...)
}

// encodeInfo: byte infoEncoding, then uvarint length + bytes of the
// version as uploaded, of the kind and of the refusal, uvarint imports,
// uvarint exports, and the detail to the end.
func encodeInfo(mi ModuleInfo) []byte {
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(mi.Version)+len(mi.Kind)+len(mi.Refused)+2*binary.MaxVarintLen64+len(mi.Detail))
	b = append(b, infoEncoding)
	for _, s := range []string{mi.Version, mi.Kind, mi.Refused} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(mi.Imports))
	b = binary.AppendUvarint(b, uint64(mi.Exports))
	return append(b, mi.Detail...)
}

var errBadInfo = errors.New("malformed info value")

// decodeInfo is the inverse of encodeInfo. Everything it returns is a copy;
// detail false leaves Detail nil (listings need only the summary).
func decodeInfo(b []byte, detail bool) (ModuleInfo, error) {
	var mi ModuleInfo
	if len(b) == 0 || b[0] != infoEncoding {
		return mi, errBadInfo
	}
	b = b[1:]
	var ss [3]string
	for i := range ss {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return mi, errBadInfo
		}
		ss[i] = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	var counts [2]uint64
	for i := range counts {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > 1<<32 {
			return mi, errBadInfo
		}
		counts[i] = n
		b = b[k:]
	}
	mi = ModuleInfo{Version: ss[0], Kind: ss[1], Refused: ss[2], Imports: int(counts[0]), Exports: int(counts[1])}
	if detail && len(b) > 0 {
		mi.Detail = append([]byte(nil), b...)
	}
	return mi, nil
}

// CreateInfoTx creates the info bucket (schema 4) when it does not exist:
// for the migration that brings a file to schema 4.
func CreateInfoTx(tx *bolt.Tx) error {
	_, err := tx.CreateBucketIfNotExists(bucketInfo)
	return err
}

// PutInfoTx stores what the parse of name@version's bytes recorded,
// replacing what was there. The version must be stored (errdefs.ErrNotFound
// otherwise): an info never outlives its version.
func PutInfoTx(tx *bolt.Tx, name, version string, mi ModuleInfo) error {
	v, err := ParseVersion(version)
	if err != nil {
		return fmt.Errorf("module %s: %w", name, err)
	}
	vkey := versionKey(v.Semver())
	versions, _, err := schemaBuckets(tx)
	if err != nil {
		return err
	}
	nb := versions.Bucket([]byte(name))
	if nb == nil {
		return fmt.Errorf("module %s@%s: %w", name, version, errdefs.ErrNotFound)
	}
	val := nb.Get(vkey)
	if val == nil {
		return fmt.Errorf("module %s@%s: %w", name, version, errdefs.ErrNotFound)
	}
	rec, err := decodeRecord(name, val)
	if err != nil {
		return err
	}
	ib := tx.Bucket(bucketInfo)
	if ib == nil {
		return fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketInfo)
	}
	mi.Version = rec.Version
	return ib.Put(infoKey(name, vkey), encodeInfo(mi))
}

// deleteInfoTx removes the info of name's version vkey, if any (Remove).
func deleteInfoTx(tx *bolt.Tx, name string, vkey []byte) error {
	ib := tx.Bucket(bucketInfo)
	if ib == nil {
		return nil
	}
	return ib.Delete(infoKey(name, vkey))
}

// AddWithInfo is Add with what the parse of the bytes recorded, written in
// the same transaction: a version is never visible without its info. When
// the version exists already with the same digest, its info is written
// only where it had none.
func (db *DB) AddWithInfo(e Entry, mi ModuleInfo) (stored Record, created bool, err error) {
	if err := db.CheckLinked(); err != nil {
		return Record{}, false, err
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		stored, created, err = PutTx(tx, e)
		if err != nil {
			return err
		}
		if !created {
			if _, err := infoTx(tx, e.Ref, false); !errors.Is(err, errdefs.ErrNotFound) {
				return err
			}
		}
		return PutInfoTx(tx, stored.Name, stored.Version, mi)
	})
	if err != nil {
		return Record{}, false, err
	}
	return stored, created, nil
}

// SetInfo stores the info of a stored version (see PutInfoTx): for a
// version whose info was not recorded (restored or rebuilt stores).
func (db *DB) SetInfo(name, version string, mi ModuleInfo) error {
	if err := db.CheckLinked(); err != nil {
		return err
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error { return PutInfoTx(tx, name, version, mi) })
	if err != nil {
		return fmt.Errorf("index %s: %w", db.path, err)
	}
	return nil
}

func infoTx(tx *bolt.Tx, ref Ref, detail bool) (ModuleInfo, error) {
	name, version := ref.name.s, ref.version.Original()
	ib := tx.Bucket(bucketInfo)
	if ib == nil {
		return ModuleInfo{}, fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketInfo)
	}
	val := ib.Get(infoKey(name, versionKey(ref.version.sv)))
	if val == nil {
		return ModuleInfo{}, fmt.Errorf("module %s@%s: no info recorded: %w", name, version, errdefs.ErrNotFound)
	}
	mi, err := decodeInfo(val, detail)
	if err != nil {
		return ModuleInfo{}, fmt.Errorf("module %s@%s: %w", name, version, err)
	}
	return mi, nil
}

// Info returns what was recorded of the exact version ref, Detail
// included. No info recorded wraps errdefs.ErrNotFound; a zero ref
// errdefs.ErrInvalid.
func (db *DB) Info(ref Ref) (ModuleInfo, error) {
	if ref.IsZero() {
		return ModuleInfo{}, fmt.Errorf("module info: %w: no module named", errdefs.ErrInvalid)
	}
	var mi ModuleInfo
	err := db.bolt.View(func(tx *bolt.Tx) (err error) {
		mi, err = infoTx(tx, ref, true)
		return err
	})
	return mi, err
}

// InfoSummaries returns the info of every version of name ("" for every
// name) without Detail, keyed by name@version as uploaded: what listings
// show. A version with no info recorded is absent.
func (db *DB) InfoSummaries(name string) (map[string]ModuleInfo, error) {
	out := map[string]ModuleInfo{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bucketInfo)
		if ib == nil {
			return fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketInfo)
		}
		c := ib.Cursor()
		var prefix []byte
		if name != "" {
			prefix = append([]byte(name), 0)
		}
		for k, v := c.Seek(prefix); k != nil && (prefix == nil || bytes.HasPrefix(k, prefix)); k, v = c.Next() {
			mi, err := decodeInfo(v, false)
			if err != nil {
				return err
			}
			n, _, _ := bytes.Cut(k, []byte{0})
			out[string(n)+"@"+mi.Version] = mi
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", db.path, err)
	}
	return out, nil
}

// WalkTx calls fn for every record of tx, names in order, versions highest
// first: for migrations, which work inside one transaction.
func WalkTx(tx *bolt.Tx, fn func(Record) error) error { return walkTx(tx, "", fn) }
