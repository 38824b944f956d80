// Package migrations brings old index files and early gpmd stores up to
// date.
//
// # Schema upgrades
//
// The index file stores its schema version (see package index). Upgrade
// opens the file (waiting at most the lock timeout: a file held by another
// process fails with index.ErrLocked), reads the version and runs every
// step above it, in order, in ONE bbolt read-write transaction that also
// records the version reached: either the whole upgrade is on disk or none
// of it. A missing or empty file is left for index.Open to create; a
// schema newer than index.SchemaVersion is refused (index.ErrSchemaTooNew);
// a file at the current schema is not written to. Run Upgrade before
// index.Open, which refuses an older schema.
//
// Steps returns the steps; each has a test keyed by its version, and a test
// fails while steps and tests differ in number or the last step is not
// index.SchemaVersion.
//
// # Schema 1
//
// The first draft of the index, kept here because step 2 reads it:
//
//	/
//	├── meta                     bucket
//	│   └── "schema"             → uint64 big-endian: 1
//	└── modules                  bucket, flat
//	    └── "<name>@<version>"   → JSON {"version": "<as uploaded>",
//	                                     "digest": "sha256:<hex>",
//	                                     "size": <bytes>,
//	                                     "created": "<RFC 3339>"}
//
// Versions were keyed by their text, so "1.0.0" and "v1.0.0" could both be
// there, latest needed a scan of every key of the name, and counting the
// uses of a digest a scan of everything. Step 2 moves every record into the
// schema-2 tree (per-name buckets with semver-sortable keys, a refs bucket)
// and deletes "modules". Spellings of one version with one digest merge;
// records that cannot be carried over (two digests for one version, a bad
// name or version) fail the step with all of them named, and the file stays
// at schema 1.
//
// # Schema 3
//
// Step 3 adds the tombstones bucket (drawn in index's doc.go): removed
// versions keep their digest so that they only come back with the same
// bytes. Schema 2's buckets and records are unchanged; versions removed
// before the upgrade have no tombstone.
//
// testdata/schema1.db is a schema-1 file written by the generator in
// migrations_test.go (go test ./migrations -run TestGenerateFixture
// -update); without -update that test checks that the committed file holds
// exactly what the generator writes.
//
// # Schemas 4 and 5: the record of each version
//
// Schema 4 (never released: no tag or release has it) kept what the parse
// of each version's bytes recorded in an info bucket of its own; schema 5
// keeps it in the version's own value (drawn in index's doc.go), so that
// an upload's commit dirties no more pages than one without it. Step 4
// creates schema 4's bucket, empty (its name and value encoding are frozen
// in schema4.go). Step 5 moves every record a schema-4 gpmd put in that
// bucket into its version's value, parses, with package wasm, the blob of
// every version still without one (once per digest; ApplyStore gets the
// repository folder, which holds the blobs), and drops the bucket; both
// run in the one transaction of an upgrade, so a schema-3 file goes
// straight to schema 5, and a file of schema 4 keeps what it recorded.
// Bytes the parser refuses get the refusal recorded: the version stays
// served, and verify reports it as invalid_module. A blob missing or
// unreadable gets no record (verify reports the damage; the repository
// parses it on first use once it is back). ModuleInfoOf is the one place
// where a parse becomes an index.ModuleInfo. testdata/schema3.db is a
// schema-3 file from the generator in info_test.go (its blobs are written
// by the test), and writeSchema4 there writes a schema-4 file; 10,000
// versions of 1–64 KiB migrate in about 1 s (BenchmarkUpgradeInfo10k).
//
// # Early gpmd stores
//
// The early gpmd kept a folder holding ghost.modules.json and the
// <name>-<version>.wasm files it names. gpmd's own mirror is the same file
// with more fields; package modulesjson owns the file's shape and is its
// one reader (both shapes), so an index can be rebuilt from a mirror and
// its blobs as well as imported from an early store.
//
// ImportLegacy uploads every listed version through an Uploader, which
// checks the bytes against the listed digest. Each version that cannot be
// imported (bytes that do not match, a missing file, a bad name or version,
// bytes that are not WebAssembly, a conflict with what is stored) is
// reported by name, version and reason and left out; the import goes on.
// Where the file records a version's created time and the Uploader can keep
// it (CreatedUploader: the repository), it is kept, so a rebuild of an
// index from its mirror keeps every version's created.
//
// The folder is not trusted: an import may run as root on a folder another
// user made. Files are opened only inside the folder (an os.Root: no
// symlink or ".." leads out), never through a symlink at all, only when
// they are regular files (the type read from the open descriptor; a FIFO or
// device is refused without blocking). Each file is hashed before it is
// sent, and bytes that do not match the listed hash are refused without
// being sent; refusals never quote the hash or bytes of a file that was not
// imported, and quote names and versions that are not printable ASCII.
//
// # Caveats
//
// A hard link inside the folder to a file elsewhere is a regular file
// inside the folder: it is read (and imported only when its bytes match
// the listed hash). Linux's fs.protected_hardlinks keeps other users from
// making hard links to files they cannot read.
package migrations
