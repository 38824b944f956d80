package index

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
	bolt "go.etcd.io/bbolt"
)

// ModuleInfo is what the structural parse of a version's bytes recorded:
// the few fields that listings show, and the parser's whole record in its
// own encoding (package wasm owns it; the index keeps it opaque), or the
// parser's refusal of bytes stored before uploads were parsed.
//
// It is kept in the version's own value, after the record's fields (see
// the schema in doc.go): one key, so that an upload's commit writes no
// page more than an upload without it would (schema 4 kept it in a
// bucket of its own, which dirtied that bucket's pages at every upload).
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

// infoEncoding is the first byte of a record's info tail; a tail of
// another encoding is damage (a newer schema would have a migration).
const infoEncoding = 1

// appendInfo appends the info tail of a record: byte infoEncoding, then
// uvarint length + bytes of the kind and of the refusal, uvarint imports,
// uvarint exports, and the detail to the end. The version is the
// record's own and is not repeated.
func appendInfo(b []byte, mi ModuleInfo) []byte {
	b = append(b, infoEncoding)
	for _, s := range []string{mi.Kind, mi.Refused} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(mi.Imports))
	b = binary.AppendUvarint(b, uint64(mi.Exports))
	return append(b, mi.Detail...)
}

// infoTailLen is an upper bound of appendInfo's bytes for mi.
func infoTailLen(mi ModuleInfo) int {
	return 1 + 4*binary.MaxVarintLen64 + len(mi.Kind) + len(mi.Refused) + len(mi.Detail)
}

var errBadInfo = errors.New("malformed info in the record value")

// decodeInfo is the inverse of appendInfo: b is a record's tail, not
// empty. Everything it returns is a copy; detail false leaves Detail nil
// (listings need only the summary).
func decodeInfo(b []byte, detail bool) (ModuleInfo, error) {
	var mi ModuleInfo
	if len(b) == 0 || b[0] != infoEncoding {
		return mi, errBadInfo
	}
	b = b[1:]
	var ss [2]string
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
	mi = ModuleInfo{Kind: ss[0], Refused: ss[1], Imports: int(counts[0]), Exports: int(counts[1])}
	if detail && len(b) > 0 {
		mi.Detail = append([]byte(nil), b...)
	}
	return mi, nil
}

// recordInfo returns the info kept in the record value val of name, with
// the version filled in; has is false when the value holds none.
func recordInfo(name string, val []byte, detail bool) (mi ModuleInfo, has bool, err error) {
	rec, tail, err := decodeRecordTail(name, val)
	if err != nil || len(tail) == 0 {
		return ModuleInfo{}, false, err
	}
	mi, err = decodeInfo(tail, detail)
	if err != nil {
		return ModuleInfo{}, false, fmt.Errorf("module %s@%s: %w", name, rec.Version, err)
	}
	mi.Version = rec.Version
	return mi, true, nil
}

// PutInfoTx stores what the parse of name@version's bytes recorded in
// the version's value, replacing what was there. The version must be
// stored (errdefs.ErrNotFound otherwise): an info never outlives its
// version. A bad name or version wraps errdefs.ErrInvalid.
func PutInfoTx(tx *bolt.Tx, name, version string, mi ModuleInfo) error {
	ref, err := ParseRef(name, version)
	if err != nil {
		return err
	}
	vkey := versionKey(ref.version.sv)
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
	rec, _, err := decodeRecordTail(name, val)
	if err != nil {
		return err
	}
	return nb.Put(vkey, encodeRecordInfo(rec, &mi))
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

// InfoTx returns what was recorded of the exact version ref in tx
// (Detail only when detail is set). A version not stored, or stored with
// no info recorded, wraps errdefs.ErrNotFound.
func InfoTx(tx *bolt.Tx, ref Ref, detail bool) (ModuleInfo, error) {
	name, version := ref.name.s, ref.version.Original()
	versions, _, err := schemaBuckets(tx)
	if err != nil {
		return ModuleInfo{}, err
	}
	var val []byte
	if nb := versions.Bucket([]byte(name)); nb != nil {
		val = nb.Get(versionKey(ref.version.sv))
	}
	if val == nil {
		return ModuleInfo{}, fmt.Errorf("module %s@%s: %w", name, version, errdefs.ErrNotFound)
	}
	mi, has, err := recordInfo(name, val, detail)
	if err != nil {
		return ModuleInfo{}, err
	}
	if !has {
		return ModuleInfo{}, fmt.Errorf("module %s@%s: no info recorded: %w", name, version, errdefs.ErrNotFound)
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
		mi, err = InfoTx(tx, ref, true)
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
		return walkValuesTx(tx, name, func(n string, v []byte) error {
			mi, has, err := recordInfo(n, v, false)
			if err == nil && has {
				out[n+"@"+mi.Version] = mi
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", db.path, err)
	}
	return out, nil
}

// WalkTx calls fn for every record of tx, names in order, versions highest
// first: for migrations, which work inside one transaction.
func WalkTx(tx *bolt.Tx, fn func(Record) error) error { return walkTx(tx, "", fn) }
