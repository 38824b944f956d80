package index

import (
	_ "crypto/sha256" // digest.Validate needs the algorithm registered
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The buckets and keys of schema 5, drawn as a tree in doc.go. They are
// unexported values read through the helpers below; migrations/ reaches
// the schema through ReadSchemaTx, WriteSchemaTx, CreateBucketsTx and
// PutTx only.
var (
	// bucketMeta holds keySchema.
	bucketMeta = []byte("meta")
	// keySchema: the schema version, uint64 big-endian.
	keySchema = []byte("schema")
	// bucketVersions holds one bucket per module name; each maps a
	// version key (versionKey) to a record value (encodeRecord).
	bucketVersions = []byte("versions")
	// bucketRefs maps refKey(digest, name, version key) to the blob size
	// (uint64 big-endian): the reverse index behind Refs and Stats.
	bucketRefs = []byte("refs")
	// bucketTombstones (schema 3) maps tombstoneKey(name, version key) to
	// a tombstone value (encodeTombstone): what Remove keeps of a version.
	bucketTombstones = []byte("tombstones")
)

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero: long enough to ride out a process that is
// closing, short enough that a second daemon fails at once.
const DefaultTimeout = time.Second

// LockedError says another process holds the index file. It wraps
// ErrLocked.
type LockedError struct {
	Path   string
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("index %s is in use by another process (lock not obtained within %s)", e.Path, e.Waited)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// OpenBolt opens the bbolt file at path with a lock timeout (DefaultTimeout
// when opts.Timeout is zero) and turns bbolt's timeout into a *LockedError.
// It does not look at the schema: Open does, and migrations.Upgrade uses
// this to reach an older schema.
func OpenBolt(path string, opts Options) (*bolt.DB, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	bdb, err := bolt.Open(path, fsutil.FileMode, &bolt.Options{
		Timeout:      timeout,
		ReadOnly:     opts.ReadOnly,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
		// The freelist is rebuilt at open instead of written at every
		// commit: one page less to write and sync per upload (etcd does
		// the same).
		NoFreelistSync: true,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, &LockedError{Path: path, Waited: timeout}
	}
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", path, err)
	}
	return bdb, nil
}

// ReadSchemaTx reads the schema version stored in tx. fresh is true when
// the file holds no bucket at all (a new file: nothing to read or
// migrate). A file with buckets but no schema is not a gpmd index, and the
// error wraps errdefs.ErrInvalid.
func ReadSchemaTx(tx *bolt.Tx) (version int, fresh bool, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error {
			empty = false
			return errStop
		})
		if empty {
			return 0, true, nil
		}
		return 0, false, fmt.Errorf("%w: the file has buckets but no %q bucket: not a gpmd index", errdefs.ErrInvalid, bucketMeta)
	}
	v := meta.Get(keySchema)
	if len(v) != 8 {
		return 0, false, fmt.Errorf("%w: schema version is %d bytes, want 8: not a gpmd index", errdefs.ErrInvalid, len(v))
	}
	u := binary.BigEndian.Uint64(v)
	if u == 0 || u > 1<<31 {
		return 0, false, fmt.Errorf("%w: schema version %d is out of range", errdefs.ErrInvalid, u)
	}
	return int(u), false, nil
}

// WriteSchemaTx stores version as the schema of tx's file, creating the
// meta bucket when needed.
func WriteSchemaTx(tx *bolt.Tx, version int) error {
	if version <= 0 {
		return fmt.Errorf("schema version %d: %w", version, errdefs.ErrInvalid)
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, uint64(version)))
}

// errStop ends a ForEach early; it never leaves this package.
var errStop = errors.New("stop")

// CreateBucketsTx creates the top-level buckets that hold records
// (versions and refs, as in schema 2) that do not exist yet; not the meta
// bucket (WriteSchemaTx does that) nor the tombstones (CreateTombstonesTx):
// the migration to schema 2 calls it before PutTx and must produce schema
// 2, which has no tombstones.
func CreateBucketsTx(tx *bolt.Tx) error {
	for _, b := range [][]byte{bucketVersions, bucketRefs} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}

// createSchemaTx lays out an empty file at SchemaVersion.
func createSchemaTx(tx *bolt.Tx) error {
	if err := CreateBucketsTx(tx); err != nil {
		return err
	}
	if err := CreateTombstonesTx(tx); err != nil {
		return err
	}
	return WriteSchemaTx(tx, SchemaVersion)
}

// schemaBuckets returns the top-level buckets of schema 2, or an error
// saying which is missing (a damaged file).
func schemaBuckets(tx *bolt.Tx) (versions, refs *bolt.Bucket, err error) {
	versions, refs = tx.Bucket(bucketVersions), tx.Bucket(bucketRefs)
	if versions == nil || refs == nil {
		return nil, nil, fmt.Errorf("%w: index file lacks the %q or %q bucket", errdefs.ErrInvalid, bucketVersions, bucketRefs)
	}
	return versions, refs, nil
}

// refKey is digest 0x00 name 0x00 versionKey. Neither a digest nor a name
// holds 0x00, so the prefix digest 0x00 selects exactly the refs of one
// digest.
func refKey(d digest.Digest, name string, vkey []byte) []byte {
	k := make([]byte, 0, len(d)+len(name)+2+len(vkey))
	k = append(k, d...)
	k = append(k, 0)
	k = append(k, name...)
	k = append(k, 0)
	return append(k, vkey...)
}

func refPrefix(d digest.Digest) []byte {
	return append([]byte(d), 0)
}

// encodeRecord: uvarint length + version as uploaded, uvarint length +
// digest, uvarint size, int64 big-endian Unix seconds, uint32 big-endian
// nanoseconds. The name is the bucket's; it is not repeated.
func encodeRecord(r Record) []byte { return encodeRecordInfo(r, nil) }

// encodeRecordInfo is encodeRecord followed, when mi is not nil, by the
// info tail (appendInfo): a version's value holds what the parse of its
// bytes recorded.
func encodeRecordInfo(r Record, mi *ModuleInfo) []byte {
	n := 2*binary.MaxVarintLen64 + len(r.Version) + len(r.Digest) + binary.MaxVarintLen64 + 12
	if mi != nil {
		n += infoTailLen(*mi)
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(r.Version)))
	b = append(b, r.Version...)
	b = binary.AppendUvarint(b, uint64(len(r.Digest)))
	b = append(b, r.Digest...)
	b = binary.AppendUvarint(b, uint64(r.Size))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Created.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Created.Nanosecond()))
	if mi != nil {
		b = appendInfo(b, *mi)
	}
	return b
}

var errBadRecord = errors.New("malformed record value")

// decodeRecord is the inverse of encodeRecord; an info tail, if any, is
// checked and skipped (recordInfo reads it). Its strings are copies: the
// result never points into memory a bbolt transaction owns.
func decodeRecord(name string, b []byte) (Record, error) {
	r, tail, err := decodeRecordTail(name, b)
	if err == nil && len(tail) > 0 {
		if _, ierr := decodeInfo(tail, false); ierr != nil {
			err = fmt.Errorf("module %s@%s: %w: %w", name, r.Version, errBadRecord, ierr)
		}
	}
	return r, err
}

// decodeRecordTail is decodeRecord returning the bytes after the record's
// fields too: the info tail, or nothing. tail points into b.
func decodeRecordTail(name string, b []byte) (r Record, tail []byte, err error) {
	str := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	ver, ok := str()
	if !ok {
		return r, nil, fmt.Errorf("module %s: %w", name, errBadRecord)
	}
	dgst, ok := str()
	if !ok {
		return r, nil, fmt.Errorf("module %s@%s: %w", name, ver, errBadRecord)
	}
	size, k := binary.Uvarint(b)
	if k <= 0 || len(b)-k < 12 || size > 1<<62 {
		return r, nil, fmt.Errorf("module %s@%s: %w", name, ver, errBadRecord)
	}
	b = b[k:]
	sec := int64(binary.BigEndian.Uint64(b[:8]))
	nsec := int64(binary.BigEndian.Uint32(b[8:12]))
	return Record{
		Name:    name,
		Version: ver,
		Digest:  digest.Digest(dgst),
		Size:    int64(size),
		Created: time.Unix(sec, nsec).UTC(),
	}, b[12:], nil
}

// ParseRecord checks a record that comes from outside the process
// (an older index file, a backup, a restore) against the rules of an
// upload and returns it as the Entry Add and PutTx take: name and version
// parsed, digest sha256, size not negative. Index.Check reads its own
// records back through it too: stored data is a boundary.
func ParseRecord(rec Record) (Entry, error) {
	n, err := ParseName(rec.Name)
	if err != nil {
		return Entry{}, err
	}
	v, err := ParseVersion(rec.Version)
	if err != nil {
		return Entry{}, fmt.Errorf("module %s: %w", rec.Name, err)
	}
	// Validate before Algorithm: Algorithm panics on a digest with no ':'.
	if err := rec.Digest.Validate(); err != nil {
		return Entry{}, fmt.Errorf("module %s@%s: digest %q: %w: must be sha256:<64 lower-case hex> (%v)", rec.Name, rec.Version, rec.Digest, errdefs.ErrInvalid, err)
	}
	if rec.Digest.Algorithm() != digest.SHA256 {
		return Entry{}, fmt.Errorf("module %s@%s: digest %q: %w: must be sha256:<64 lower-case hex>", rec.Name, rec.Version, rec.Digest, errdefs.ErrInvalid)
	}
	if rec.Size < 0 {
		return Entry{}, fmt.Errorf("module %s@%s: size %d: %w: must not be negative", rec.Name, rec.Version, rec.Size, errdefs.ErrInvalid)
	}
	return Entry{Ref: NewRef(n, v), Digest: rec.Digest, Size: rec.Size, Created: rec.Created}, nil
}

// validateRecord is ParseRecord returning the version key, for the
// checks of stored records and tombstones.
func validateRecord(rec Record) (vkey []byte, err error) {
	e, err := ParseRecord(rec)
	if err != nil {
		return nil, err
	}
	return versionKey(e.Ref.version.sv), nil
}

// PutTx adds rec inside tx, a writable transaction on a schema-2 file: the
// whole of Add, for callers that batch many records in one transaction
// (migrations, bulk loads). Its contract is Add's: Created is set to now
// when zero; an existing equal version with the same digest is returned
// with created=false and nothing changes; with another digest the error
// wraps errdefs.ErrConflict.
//
// e is trusted: its Ref was parsed at the caller's boundary (ParseRef,
// ParseRecord) and its digest computed or parsed there, so PutTx does not
// check them again.
func PutTx(tx *bolt.Tx, e Entry) (stored Record, created bool, err error) {
	if e.Ref.name.IsZero() || e.Ref.version.IsZero() {
		// Only a zero Entry gets here unparsed: a programming error, said
		// plainly rather than stored under an empty name.
		return Record{}, false, fmt.Errorf("%w: index entry without a parsed name and version", errdefs.ErrInvalid)
	}
	vkey := versionKey(e.Ref.version.sv)
	rec := Record{Name: e.Ref.name.s, Version: e.Ref.version.Original(), Digest: e.Digest, Size: e.Size, Created: e.Created}
	versions, refs, err := schemaBuckets(tx)
	if err != nil {
		return Record{}, false, err
	}
	nb, err := versions.CreateBucketIfNotExists([]byte(rec.Name))
	if err != nil {
		return Record{}, false, err
	}
	if old := nb.Get(vkey); old != nil {
		have, err := decodeRecord(rec.Name, old)
		if err != nil {
			return Record{}, false, err
		}
		if have.Digest == rec.Digest {
			if e.Info != nil {
				// The same bytes again, with their parse: kept where the
				// version had none (a store from before uploads were
				// parsed, or a blob the migration could not read).
				if _, has, err := recordInfo(rec.Name, old, false); err != nil || has {
					return have, false, err
				}
				if err := nb.Put(vkey, encodeRecordInfo(have, e.Info)); err != nil {
					return Record{}, false, err
				}
			}
			return have, false, nil
		}
		return Record{}, false, fmt.Errorf("module %s@%s: %w: the version exists with other content: %s@%s is stored with digest %s, this one has %s",
			rec.Name, rec.Version, errdefs.ErrConflict, rec.Name, have.Version, have.Digest, rec.Digest)
	}
	// A removed version comes back only with its old bytes. The bucket is
	// absent while the migration to schema 2 runs PutTx.
	if tb := tx.Bucket(bucketTombstones); tb != nil {
		tkey := tombstoneKey(rec.Name, vkey)
		if old := tb.Get(tkey); old != nil {
			gone, err := decodeTombstone(tkey, old)
			if err != nil {
				return Record{}, false, err
			}
			if gone.Digest != rec.Digest {
				return Record{}, false, fmt.Errorf("module %s@%s: %w: %s@%s was removed on %s and held digest %s, this one has %s; a version never changes its bytes (upload a new version, or remove it with forget to break that rule on purpose)",
					rec.Name, rec.Version, errdefs.ErrConflict, rec.Name, gone.Version, gone.Removed.Format(time.RFC3339), gone.Digest, rec.Digest)
			}
			if err := tb.Delete(tkey); err != nil {
				return Record{}, false, err
			}
		}
	}
	if rec.Created.IsZero() {
		rec.Created = time.Now()
	}
	rec.Created = rec.Created.UTC().Round(0)
	if err := nb.Put(vkey, encodeRecordInfo(rec, e.Info)); err != nil {
		return Record{}, false, err
	}
	if err := refs.Put(refKey(rec.Digest, rec.Name, vkey), binary.BigEndian.AppendUint64(nil, uint64(rec.Size))); err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}
