package index

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the schema this code reads and writes.
const SchemaVersion = 5

// Errors. A missing name or version, a bad name, version or constraint,
// and a version stored with other bytes are the errdefs classes
// ErrNotFound, ErrInvalid and ErrConflict, wrapped with their subject. The
// narrower errors below, which callers must tell apart, belong to a class
// too (errors.Is(ErrLocked, errdefs.ErrUnavailable) holds).
var (
	// ErrLocked: another process holds the index file (see LockedError).
	ErrLocked = errdefs.Narrow("index is in use by another process", errdefs.ErrUnavailable)
	// ErrSchemaTooNew: the file was written by a newer gpmd.
	ErrSchemaTooNew = errdefs.Narrow("index schema is newer than this gpmd", errdefs.ErrUnavailable)
	// ErrSchemaOld: the file needs migrations.Upgrade first.
	ErrSchemaOld = errdefs.Narrow("index schema needs an upgrade", errdefs.ErrUnavailable)
	// ErrUnlinked: the index file this process has open is no longer the
	// file at its path (removed or replaced while open). Writes into it
	// would be lost at the next start, so they are refused.
	ErrUnlinked = errdefs.Narrow("index file was removed or replaced while open", errdefs.ErrUnavailable)
)

// Record is one version of one module.
type Record struct {
	Name    string        `json:"name"`
	Version string        `json:"version"` // as uploaded
	Digest  digest.Digest `json:"digest"`
	Size    int64         `json:"size"`
	Created time.Time     `json:"created"`
}

// Module is one name with its versions, highest first.
type Module struct {
	Name     string   `json:"name"`
	Versions []Record `json:"versions"`
}

// Stats counts what the index holds.
type Stats struct {
	Modules  int   `json:"modules"`
	Versions int   `json:"versions"`
	Blobs    int   `json:"blobs"`      // distinct digests
	Bytes    int64 `json:"blob_bytes"` // sum of the sizes of distinct digests
}

// Options for Open.
type Options struct {
	// Timeout for the file lock; 0 means DefaultTimeout (not forever).
	Timeout time.Duration
	// ReadOnly opens without writing (and with a shared lock, so several
	// read-only openers may coexist, but none beside a writer).
	ReadOnly bool
	// NoSync skips fsync (benchmarks and tests only).
	NoSync bool
	// NoGroupCommit gives every Add a commit of its own, as before the
	// group commit (benchmarks only, to measure what it saves).
	NoGroupCommit bool
}

// DB is the bbolt index. Safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	// ident is the file as opened (for its device and inode): CheckLinked
	// compares the path with it. nil when opened read-only.
	ident os.FileInfo
	// solo: Options.NoGroupCommit.
	solo bool
	// group gathers the records of concurrent Adds into shared commits
	// (group.go).
	group group
}

// Open opens or creates the index at path. A new or empty file gets the
// current schema. A file of an older schema fails with ErrSchemaOld (run
// migrations.Upgrade first); of a newer one with ErrSchemaTooNew. When
// another process holds the file, Open fails after opts.Timeout with a
// *LockedError, which wraps ErrLocked.
func Open(path string, opts Options) (*DB, error) {
	bdb, err := OpenBolt(path, opts)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(bdb, path, opts.ReadOnly); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	db := &DB{bolt: bdb, path: path, solo: opts.NoGroupCommit}
	if !opts.ReadOnly {
		// The lock is held: nobody swaps the file between bbolt's open
		// and this stat but someone who ignores the lock.
		fi, err := os.Stat(path)
		if err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("index %s: %w", path, err)
		}
		db.ident = fi
	}
	return db, nil
}

// CheckLinked reports, as an error wrapping ErrUnlinked (an
// errdefs.ErrUnavailable), when the file at the index's path is no longer
// the file this DB has open: someone removed or replaced it. Every write
// (Add, Remove, Forget, AddTombstone) checks this first and is refused,
// because what it wrote would be lost at the next start. One stat(2).
func (db *DB) CheckLinked() error {
	if db.ident == nil {
		return nil
	}
	fi, err := os.Stat(db.path)
	if err == nil && os.SameFile(fi, db.ident) {
		return nil
	}
	what := "replaced by another file"
	if err != nil {
		what = "removed"
	}
	return fmt.Errorf("index %s: %w: it was %s while gpmd had it open, and changes written now would be lost; stop gpmd and restore a backup (gpmd restore) or rebuild the index (gpmd rebuild-index), then start it again",
		db.path, ErrUnlinked, what)
}

func checkSchema(bdb *bolt.DB, path string, readOnly bool) error {
	var version int
	var fresh bool
	err := bdb.View(func(tx *bolt.Tx) error {
		var err error
		version, fresh, err = ReadSchemaTx(tx)
		return err
	})
	if err == nil && fresh {
		if readOnly {
			return fmt.Errorf("index %s: %w: the file is empty and opened read-only", path, errdefs.ErrNotFound)
		}
		// Check again inside the write transaction: another opener may
		// have created the schema in between (each process waits for
		// the lock, but within a process two Opens share nothing).
		err = bdb.Update(func(tx *bolt.Tx) error {
			var err error
			version, fresh, err = ReadSchemaTx(tx)
			if err != nil || !fresh {
				return err
			}
			version = SchemaVersion
			return createSchemaTx(tx)
		})
	}
	switch {
	case err != nil:
		return fmt.Errorf("index %s: %w", path, err)
	case version < SchemaVersion:
		return fmt.Errorf("index %s has schema %d, this gpmd uses schema %d: %w (run migrations.Upgrade)", path, version, SchemaVersion, ErrSchemaOld)
	case version > SchemaVersion:
		return fmt.Errorf("index %s has schema %d, newer than schema %d that this gpmd knows: %w; use a newer gpmd", path, version, SchemaVersion, ErrSchemaTooNew)
	}
	return nil
}

// Close releases the file and its lock. Calling it again does nothing.
func (db *DB) Close() error { return db.bolt.Close() }

// Path of the bbolt file.
func (db *DB) Path() string { return db.path }

// Add stores e (Created is set when zero); e.Ref was parsed at the
// boundary and is not checked again. Adding a version that exists
// with the same digest changes nothing and returns the stored record with
// created=false; with another digest it fails with errdefs.ErrConflict. Versions
// equal as semver (v1.0.0, 1.0.0, 1.0.0+build7) are one version. The write
// is durable (fsynced) when Add returns, unless Options.NoSync. Adds that
// run at the same time may share one commit (group commit, group.go); each
// still returns only once its own record is on disk, and a refused record
// refuses no other.
func (db *DB) Add(e Entry) (stored Record, created bool, err error) {
	if err := db.CheckLinked(); err != nil {
		return Record{}, false, err
	}
	c := &addCall{entry: e}
	if db.solo {
		db.group.commitGroup(db.bolt, []*addCall{c})
	} else {
		db.group.add(db.bolt, c)
	}
	if c.err != nil {
		return Record{}, false, c.err
	}
	return c.stored, c.created, nil
}

// Resolve finds the version q asks for: the latest (the highest
// release; where the name has none, the highest pre-release), an exact
// version (semver equality: v1.2.0 finds 1.2.0), or a Masterminds
// constraint (the highest version satisfying it). q was parsed at the
// boundary (ParseQuery) and is not checked again; a zero Query wraps
// errdefs.ErrInvalid. Nothing matching wraps errdefs.ErrNotFound.
func (db *DB) Resolve(q Query) (Record, error) {
	if q.name.IsZero() {
		return Record{}, fmt.Errorf("resolve: %w: no module named", errdefs.ErrInvalid)
	}
	name := q.name.s
	var exactKey []byte
	if q.exact != nil {
		exactKey = versionKey(q.exact)
	}
	constraint := q.constraint
	var rec Record
	found := false
	err := db.bolt.View(func(tx *bolt.Tx) error {
		versions, _, err := schemaBuckets(tx)
		if err != nil {
			return err
		}
		nb := versions.Bucket([]byte(name))
		if nb == nil {
			return nil
		}
		var val []byte
		switch {
		case exactKey != nil:
			val = nb.Get(exactKey)
		case constraint != nil:
			val, err = matchConstraint(nb, constraint)
			if err != nil {
				return err
			}
		default:
			// The last key is the highest release, or, in the
			// pre-release section, the highest pre-release of a name
			// that has no release.
			_, val = nb.Cursor().Last()
		}
		if val == nil {
			return nil
		}
		found = true
		rec, err = decodeRecord(name, val)
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("index %s: %w", db.path, err)
	}
	if !found {
		return Record{}, fmt.Errorf("module %s: %w", q, errdefs.ErrNotFound)
	}
	return rec, nil
}

// matchConstraint returns the value of the highest version in nb that
// satisfies c, or nil. It walks the releases from the top and stops at the
// first match, then walks the pre-releases from the top and stops at the
// first match or as soon as they fall below the release found.
func matchConstraint(nb *bolt.Bucket, c *semver.Constraints) ([]byte, error) {
	cur := nb.Cursor()
	var bestKey, bestVal []byte
	k, v := cur.Last()
	for ; k != nil && k[0] == sectionRelease; k, v = cur.Prev() {
		sv, err := parseKey(k)
		if err != nil {
			return nil, err
		}
		if c.Check(sv) {
			bestKey, bestVal = k, v
			break
		}
	}
	if bestKey != nil {
		// Position on the highest pre-release: just before the first
		// release.
		if fk, _ := cur.Seek([]byte{sectionRelease}); fk != nil {
			k, v = cur.Prev()
		} else {
			k, v = cur.Last()
		}
	}
	for ; k != nil && k[0] == sectionPre; k, v = cur.Prev() {
		if bestKey != nil && compareKeys(k, bestKey) < 0 {
			break
		}
		sv, err := parseKey(k)
		if err != nil {
			return nil, err
		}
		if c.Check(sv) {
			return v, nil
		}
	}
	return bestVal, nil
}

// descending calls fn for every key and value of nb, highest version
// first, merging the release and pre-release sections.
func descending(nb *bolt.Bucket, fn func(k, v []byte) error) error {
	rel, pre := nb.Cursor(), nb.Cursor()
	rk, rv := rel.Last()
	if rk != nil && rk[0] != sectionRelease {
		rk, rv = nil, nil // only pre-releases
	}
	var pk, pv []byte
	if fk, _ := pre.Seek([]byte{sectionRelease}); fk != nil {
		pk, pv = pre.Prev()
	} else {
		pk, pv = pre.Last()
	}
	if pk != nil && pk[0] != sectionPre {
		pk, pv = nil, nil
	}
	for rk != nil || pk != nil {
		if pk == nil || (rk != nil && compareKeys(rk, pk) > 0) {
			if err := fn(rk, rv); err != nil {
				return err
			}
			rk, rv = rel.Prev()
			if rk != nil && rk[0] != sectionRelease {
				rk, rv = nil, nil
			}
			continue
		}
		if err := fn(pk, pv); err != nil {
			return err
		}
		pk, pv = pre.Prev()
		if pk != nil && pk[0] != sectionPre {
			pk, pv = nil, nil
		}
	}
	return nil
}

// walkTx calls fn for every record of tx, names in order (or only name
// when it is not empty), versions highest first.
func walkTx(tx *bolt.Tx, name string, fn func(Record) error) error {
	return walkValuesTx(tx, name, func(n string, v []byte) error {
		rec, err := decodeRecord(n, v)
		if err != nil {
			return err
		}
		return fn(rec)
	})
}

// walkValuesTx is walkTx's walk: fn gets each version's name and stored
// value (which points into tx).
func walkValuesTx(tx *bolt.Tx, name string, fn func(name string, v []byte) error) error {
	versions, _, err := schemaBuckets(tx)
	if err != nil {
		return err
	}
	each := func(nameKey []byte) error {
		nb := versions.Bucket(nameKey)
		if nb == nil {
			return nil
		}
		n := string(nameKey)
		return descending(nb, func(_, v []byte) error { return fn(n, v) })
	}
	if name != "" {
		return each([]byte(name))
	}
	return versions.ForEachBucket(each)
}

// List returns modules sorted by name, each with versions highest first
// (pre-releases in their semver place). The zero Name lists all; a name
// with no versions gives an empty slice.
func (db *DB) List(n Name) ([]Module, error) {
	name := n.s
	mods := []Module{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return walkTx(tx, name, func(r Record) error {
			if len(mods) == 0 || mods[len(mods)-1].Name != r.Name {
				mods = append(mods, Module{Name: r.Name})
			}
			m := &mods[len(mods)-1]
			m.Versions = append(m.Versions, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", db.path, err)
	}
	return mods, nil
}

// Remove deletes the exact version (semver equality), keeps a tombstone of
// it (name, version, digest, removal time: see Tombstone) and reports how
// many versions still name its digest: 0 means the blob is garbage now. A
// name left with no versions disappears from List. A version that is not
// there wraps errdefs.ErrNotFound; a zero ref errdefs.ErrInvalid.
func (db *DB) Remove(ref Ref) (removed Record, remainingRefs int, err error) {
	removed, found, remainingRefs, err := db.remove(ref, false)
	if err == nil && !found {
		err = fmt.Errorf("module %s: %w", ref, errdefs.ErrNotFound)
	}
	return removed, remainingRefs, err
}

// remove is Remove (forget false) and Forget (forget true).
func (db *DB) remove(ref Ref, forget bool) (removed Record, found bool, remainingRefs int, err error) {
	if ref.IsZero() {
		return Record{}, false, 0, fmt.Errorf("remove: %w: no module named", errdefs.ErrInvalid)
	}
	name, v := ref.name.s, ref.version
	if err := db.CheckLinked(); err != nil {
		return Record{}, false, 0, err
	}
	vkey := versionKey(v.sv)
	tkey := tombstoneKey(name, vkey)
	forgot := false
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		versions, refs, err := schemaBuckets(tx)
		if err != nil {
			return err
		}
		tb := tx.Bucket(bucketTombstones)
		if tb == nil {
			return fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketTombstones)
		}
		if forget && tb.Get(tkey) != nil {
			forgot = true
			if err := tb.Delete(tkey); err != nil {
				return err
			}
		}
		nb := versions.Bucket([]byte(name))
		if nb == nil {
			return nil
		}
		val := nb.Get(vkey)
		if val == nil {
			return nil
		}
		found = true
		if removed, err = decodeRecord(name, val); err != nil {
			return err
		}
		if err := nb.Delete(vkey); err != nil {
			return err
		}
		if k, _ := nb.Cursor().First(); k == nil {
			if err := versions.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := refs.Delete(refKey(removed.Digest, name, vkey)); err != nil {
			return err
		}
		remainingRefs = countRefs(refs, removed.Digest)
		if forget {
			return nil
		}
		gone := Tombstone{Name: name, Version: removed.Version, Digest: removed.Digest, Size: removed.Size, Removed: time.Now().UTC().Round(0)}
		return tb.Put(tkey, encodeTombstone(gone))
	})
	if err != nil {
		return Record{}, false, 0, fmt.Errorf("index %s: %w", db.path, err)
	}
	if forget && !found && !forgot {
		return Record{}, false, 0, fmt.Errorf("module %s: %w: no version and no tombstone", ref, errdefs.ErrNotFound)
	}
	return removed, found, remainingRefs, nil
}

func countRefs(refs *bolt.Bucket, d digest.Digest) int {
	prefix := refPrefix(d)
	n := 0
	c := refs.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// Refs reports how many versions name d (0 for a digest nothing names).
// It reads the refs bucket, so its cost grows with the answer, not with
// the index.
func (db *DB) Refs(d digest.Digest) (int, error) {
	n := 0
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, refs, err := schemaBuckets(tx)
		if err != nil {
			return err
		}
		n = countRefs(refs, d)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("index %s: %w", db.path, err)
	}
	return n, nil
}

// Walk calls fn for every record inside one read transaction, names in
// order, versions highest first. fn must not call back into db (a write
// would wait for this read to end). An error from fn stops the walk and is
// returned as is.
func (db *DB) Walk(fn func(Record) error) error {
	var fnErr error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		return walkTx(tx, "", func(r Record) error {
			if err := fn(r); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("index %s: %w", db.path, err)
	}
	return nil
}

// Stats counts modules, versions and distinct blobs in one read
// transaction. It reads every key once (linear), so keep it off hot paths.
func (db *DB) Stats() (Stats, error) {
	var s Stats
	err := db.bolt.View(func(tx *bolt.Tx) error {
		versions, refs, err := schemaBuckets(tx)
		if err != nil {
			return err
		}
		err = versions.ForEachBucket(func(name []byte) error {
			s.Modules++
			c := versions.Bucket(name).Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				s.Versions++
			}
			return nil
		})
		if err != nil {
			return err
		}
		var last []byte
		c := refs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			i := bytes.IndexByte(k, 0)
			if i < 0 || len(v) != 8 {
				return fmt.Errorf("%w: malformed ref %q", errdefs.ErrInvalid, k)
			}
			if last != nil && bytes.Equal(k[:i], last) {
				continue
			}
			last = append(last[:0], k[:i]...)
			s.Blobs++
			s.Bytes += int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return Stats{}, fmt.Errorf("index %s: %w", db.path, err)
	}
	return s, nil
}

// Snapshot writes a consistent copy of the bbolt file to w (Tx.WriteTo) and
// returns the records and tombstones of that same transaction: a backup and the list of
// blobs it needs, as of one instant. Writers are not blocked meanwhile.
func (db *DB) Snapshot(w io.Writer) ([]Record, []Tombstone, error) {
	recs := []Record{}
	var tombs []Tombstone
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if _, err := tx.WriteTo(w); err != nil {
			return err
		}
		var err error
		if tombs, err = tombstonesTx(tx); err != nil {
			return err
		}
		return walkTx(tx, "", func(r Record) error {
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("index %s: snapshot: %w", db.path, err)
	}
	return recs, tombs, nil
}

// WalkAll is Walk, and it returns the tombstones of the same read
// transaction: everything the mirror holds, as of one instant.
func (db *DB) WalkAll(fn func(Record) error) ([]Tombstone, error) {
	var tombs []Tombstone
	var fnErr error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		if tombs, err = tombstonesTx(tx); err != nil {
			return err
		}
		return walkTx(tx, "", func(r Record) error {
			if err := fn(r); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	})
	if fnErr != nil {
		return nil, fnErr
	}
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", db.path, err)
	}
	return tombs, nil
}

// Check runs bbolt's consistency check (pages, freelist) and checks that
// every record decodes and the refs bucket mirrors the records exactly.
// It reads the whole file.
func (db *DB) Check() error {
	err := db.bolt.View(func(tx *bolt.Tx) error {
		// Drain the channel: Check's goroutine reads the transaction
		// until it closes it.
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = err
			}
		}
		if first != nil {
			return first
		}
		return checkRefsTx(tx)
	})
	if err != nil {
		return fmt.Errorf("index %s: check: %w", db.path, err)
	}
	return nil
}

// checkRefsTx checks that every record and tombstone passes the rules of
// an upload and that the refs bucket holds exactly one entry per record,
// with the record's size.
func checkRefsTx(tx *bolt.Tx) error {
	versions, refs, err := schemaBuckets(tx)
	if err != nil {
		return err
	}
	want := 0
	err = versions.ForEachBucket(func(name []byte) error {
		nb := versions.Bucket(name)
		if k, _ := nb.Cursor().First(); k == nil {
			return fmt.Errorf("module %s: empty bucket left behind", name)
		}
		return nb.ForEach(func(k, v []byte) error {
			want++
			if _, err := parseKey(k); err != nil {
				return fmt.Errorf("module %s: %w", name, err)
			}
			r, err := decodeRecord(string(name), v)
			if err != nil {
				return err
			}
			if _, _, err := recordInfo(string(name), v, false); err != nil {
				return err
			}
			// Every stored string passes the rules of an upload: a file
			// written by other means (a crafted copy) must not hand out
			// a name or version that no upload could store.
			vkey, err := validateRecord(r)
			if err != nil {
				return fmt.Errorf("stored record breaks the rules of an upload: %w", err)
			}
			if !bytes.Equal(vkey, k) {
				return fmt.Errorf("module %s@%q: stored under the key of another version", name, r.Version)
			}
			ref := refs.Get(refKey(r.Digest, r.Name, k))
			if len(ref) != 8 || int64(binary.BigEndian.Uint64(ref)) != r.Size {
				return fmt.Errorf("module %s@%s: missing or wrong ref for %s", r.Name, r.Version, r.Digest)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	got := 0
	c := refs.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		got++
	}
	if got != want {
		return fmt.Errorf("refs bucket holds %d entries for %d records", got, want)
	}
	tb := tx.Bucket(bucketTombstones)
	if tb == nil {
		return fmt.Errorf("%w: index file lacks the %q bucket", errdefs.ErrInvalid, bucketTombstones)
	}
	return tb.ForEach(func(k, v []byte) error {
		t, err := decodeTombstone(k, v)
		if err != nil {
			return err
		}
		if _, err := validateRecord(Record{Name: t.Name, Version: t.Version, Digest: t.Digest, Size: t.Size}); err != nil {
			return fmt.Errorf("stored tombstone breaks the rules of an upload: %w", err)
		}
		return nil
	})
}
