package index

// API SKELETON — the helper that owns index/ replaces the bodies; the
// exported names and signatures below are relied on by repo/, gmp/,
// migrations/ and cmd/.

import (
	"errors"
	"io"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
)

// SchemaVersion is the schema this code reads and writes.
const SchemaVersion = 2

// Error classes, tested with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrInvalid: a name, version or constraint that breaks the rules.
	ErrInvalid = errors.New("invalid")
	// ErrConflict: the version exists under that name with other bytes.
	ErrConflict = errors.New("version exists with other content")
	// ErrLocked: another process holds the index file.
	ErrLocked = errors.New("index is in use by another process")
	// ErrSchemaTooNew: the file was written by a newer gpmd.
	ErrSchemaTooNew = errors.New("index schema is newer than this gpmd")
	// ErrSchemaOld: the file needs migrations.Upgrade first.
	ErrSchemaOld = errors.New("index schema needs an upgrade")
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
	// Timeout for the file lock; 0 means a short default (not forever).
	Timeout time.Duration
	// ReadOnly opens without writing (and without a write lock).
	ReadOnly bool
	// NoSync skips fsync (benchmarks and tests only).
	NoSync bool
}

// DB is the bbolt index. Safe for concurrent use.
type DB struct{}

// Open opens or creates the index at path.
func Open(path string, opts Options) (*DB, error) { panic("unimplemented") }

func (db *DB) Close() error { panic("unimplemented") }

// Path of the bbolt file.
func (db *DB) Path() string { panic("unimplemented") }

// Add stores rec (Created is set when zero). Adding a version that exists
// with the same digest changes nothing and returns the stored record with
// created=false; with another digest it fails with ErrConflict.
func (db *DB) Add(rec Record) (stored Record, created bool, err error) { panic("unimplemented") }

// Resolve finds a version of name: query empty or "latest", an exact
// version (semver equality), or a constraint.
func (db *DB) Resolve(name, query string) (Record, error) { panic("unimplemented") }

// List returns modules sorted by name, each with versions highest first.
// name == "" lists all; a name with no versions gives an empty slice.
func (db *DB) List(name string) ([]Module, error) { panic("unimplemented") }

// Remove deletes the exact version (semver equality) and reports how many
// versions still name its digest.
func (db *DB) Remove(name, version string) (removed Record, remainingRefs int, err error) {
	panic("unimplemented")
}

// Refs reports how many versions name d.
func (db *DB) Refs(d digest.Digest) (int, error) { panic("unimplemented") }

// Walk calls fn for every record inside one read transaction, names in
// order, versions highest first. fn must not call back into db.
func (db *DB) Walk(fn func(Record) error) error { panic("unimplemented") }

// Stats counts modules, versions and distinct blobs.
func (db *DB) Stats() (Stats, error) { panic("unimplemented") }

// Snapshot writes a consistent copy of the bbolt file to w (Tx.WriteTo) and
// returns the records of that same transaction.
func (db *DB) Snapshot(w io.Writer) ([]Record, error) { panic("unimplemented") }

// ValidateName checks a module name against GMP.md's rule.
func ValidateName(name string) error { panic("unimplemented") }

// ParseVersion parses an uploaded version: a full semantic version with an
// optional leading v; "1" or "1.2" fail with a hint.
func ParseVersion(v string) (*semver.Version, error) { panic("unimplemented") }
