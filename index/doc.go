// Package index maps module name@version to the digest of its bytes, in a
// bbolt file (<modules>/index.db beside the blob store).
//
// # Guarantees
//
// Readers and writers: a DB is safe for concurrent use by many goroutines.
// Every call is one bbolt transaction: Remove one read-write transaction
// (bbolt runs one writer at a time), Add one too or a share of one (Adds
// running at the same time are committed together, see Durability; an
// Entry's info is written with its record), every read (Resolve,
// List, Refs, Walk, Stats, Snapshot) one read-only transaction, which sees
// the index as of an instant and never blocks nor is blocked by the
// writer. A Walk or Snapshot therefore sees every record or none of a
// concurrent Add.
//
// Durability: when Add or Remove returns nil, the change is on disk
// (bbolt fsyncs the file at commit), unless Options.NoSync, which is for
// tests and benchmarks. A crash leaves the file as of the last commit.
// Group commit: Adds that arrive while a commit is in flight are gathered
// into the next transaction (one set of fsyncs for all); each Add returns
// only after the commit holding its record returned, so the rule above
// holds for each. No Add waits for company: a lone Add commits at once. A
// record refused (a conflict) rolls its group back, and each record of it
// is then committed alone, so a refusal costs no other Add its place.
//
// Processes: one process opens the file for writing at a time (bbolt's
// flock). Another Open waits Options.Timeout (DefaultTimeout, 1s, when
// zero) and then fails with a *LockedError that wraps ErrLocked; it never
// hangs.
//
// Memory: every Record returned is a copy; no slice that a bbolt
// transaction owns leaves this package.
//
// Checked once: this package is the one home of the rules for names and
// versions. ParseName, ParseVersion, ParseRef and ParseQuery turn
// untrusted text into typed values (Name, Version, Ref, Query) whose
// fields are unexported, so only they make one; ParseRecord does the same
// for a whole record read from outside (an older file, a backup, this
// file in Check). The boundaries (the GMP handlers, the control API's
// handlers, the pull-through) parse once; everything below takes the
// typed value and checks nothing again: Add and PutTx take an Entry
// holding a Ref, Resolve a Query (which carries its Name), List a Name
// (the zero Name lists all), Remove, Forget and Info a Ref, and so do
// repo's Upload, Get, Resolve, Info, Check, List and RemoveWith. A zero
// value (never parsed) is refused with errdefs.ErrInvalid.
//
// Versions: a stored version is a full semantic version (ParseVersion);
// the text is kept as uploaded. Versions equal as semver (build metadata
// ignored) are one version, and a version is immutable: adding it again
// with the same digest changes nothing, with another digest fails with
// errdefs.ErrConflict. Remove keeps a tombstone of the version (its
// digest), so this holds across removal: the same digest may come back
// (the tombstone goes), another fails with errdefs.ErrConflict until
// Forget drops the tombstone.
//
// The file: every write (Add, Remove, Forget, AddTombstone) first checks
// that the file at the path is still the one opened (device and inode); a
// file removed or replaced under the process fails the write with
// ErrUnlinked instead of acknowledging a change the next Open will not
// see. CheckLinked is that check alone. Check also checks that every
// stored record and tombstone passes the rules of an upload.
//
// Speed: Resolve of "latest" and of an exact version costs one bucket
// lookup and one cursor move or Get, whatever the number of versions. A
// constraint walks versions from the highest down to the first match.
//
// # Schema
//
// The file holds, at SchemaVersion 5 (integers are big-endian):
//
//	/
//	├── meta                         bucket
//	│   └── "schema"                 → uint64: the schema version (5)
//	├── versions                     bucket: one sub-bucket per module name
//	│   └── <name>                   bucket; key = the name (a-z 0-9 _ -)
//	│       └── <version key>        → <record> [<info>]
//	├── refs                         bucket: the reverse index
//	│   └── <digest> 0x00 <name> 0x00 <version key>
//	│                                → uint64: the blob's size
//	└── tombstones                   bucket (schema 3): removed versions
//	    └── <name> 0x00 <version key>
//	                                 → <record> of the removed version,
//	                                   with the removal time in place of
//	                                   the creation time (no <info>)
//
//	<version key>, build metadata left out (equal versions, equal keys):
//	  release:      0x02 major:u64 minor:u64 patch:u64
//	  pre-release:  0x01 major:u64 minor:u64 patch:u64 <ident>... 0x00
//	  <ident>:      numeric       0x01 n:u64
//	                alphanumeric  0x02 <bytes> 0x00
//
//	<record>:  uvarint len, version as uploaded,
//	           uvarint len, digest ("sha256:<64 hex>"),
//	           uvarint size,
//	           int64 Unix seconds, uint32 nanoseconds of the creation time
//
//	<info>:    what the parse of the version's bytes recorded (schema 5):
//	           0x01 (the encoding),
//	           uvarint len, kind ("module", "component"; "" when refused),
//	           uvarint len, the parser's refusal ("" when accepted),
//	           uvarint imports, uvarint exports,
//	           to the end: wasm.Info's own versioned binary encoding
//
// The info lives in the version's own value, so it lives and dies with
// the version, and an upload's commit writes the same pages with it as
// without it (schema 4, never released, kept it in a bucket of its own:
// more dirty pages per commit). A version may lack one only where its
// blob could not be read when the migration to schema 5 ran (the
// repository parses it on first use).
//
// Within a section, bbolt's byte order of version keys is semver order:
// the core numbers are fixed-width; a numeric identifier sorts below an
// alphanumeric one (0x01 < 0x02) and numbers compare as numbers; an
// alphanumeric identifier ends with 0x00, below every identifier byte, so
// "alpha" sorts before "alphab"; and the end marker 0x00 sorts a shorter
// list of identifiers before a longer one with the same start. Releases
// (0x02) sort after all pre-releases (0x01), so the last key of a name's
// bucket is its highest release, and when it lies in the pre-release
// section the name has no release and it is the highest pre-release: that
// is "latest", one Cursor.Last away. Listing in full semver order merges
// the two sections (compareKeys).
//
// The rule: change the tree, add a migration (package migrations), bump
// SchemaVersion. Open refuses an older schema with ErrSchemaOld until
// migrations.Upgrade has run, and a newer one with ErrSchemaTooNew.
//
// # Errors
//
// A missing name or version wraps errdefs.ErrNotFound, a bad name,
// version or constraint (refused by the Parse functions) errdefs.ErrInvalid, a version stored with other
// bytes (or of a removed version's tombstone) errdefs.ErrConflict, each
// with its subject. ErrLocked, ErrSchemaTooNew, ErrSchemaOld and
// ErrUnlinked are narrower and wrap errdefs.ErrUnavailable.
//
// # Caveats
//
// Remove does not delete blobs: it reports how many versions still name
// the digest, and the caller collects blobs that nothing names. Stats and
// Check read the whole file.
package index
