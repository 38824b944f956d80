// Package repo is GPMD's module repository: what upload, get, list and
// remove mean. It puts a content-addressed blob store (package blobstore)
// and a bbolt index of name@version → digest (package index) together in
// one folder, and keeps ghost.modules.json, a JSON mirror of the index, for
// people and tools to read:
//
//	<dir>/
//	  blobs/sha256/<64 hex>   module bytes, one read-only file per digest
//	  ingest/                 uploads in progress (swept at Open)
//	  index.db                the bbolt index (with each version's parse record): the truth
//	  ghost.modules.json      the mirror of the index
//
// # Guarantees
//
// Durability. Upload returns success only after the blob is fsynced and
// renamed into place and the index entry is committed (bbolt fsyncs its
// commit). An upload that returned success survives a crash or power cut.
// Uploads that finish together share one index commit (index's group
// commit: one set of fsyncs for all their entries); each still returns
// only after the commit holding its own entry is on disk.
//
// Order. An upload writes the blob, then the index entry; Remove deletes the
// index entry, then the blob. A crash at any point therefore never leaves an
// index entry without its blob. It may leave a blob that no version names:
// garbage for a later collection, never an error.
//
// Leases. A blob is protected from collection from before it is committed
// until its index entry is written, so a collection that runs while uploads
// run never removes a blob that an upload is about to name, even when the
// upload finds the bytes already stored.
//
// Modules. Upload parses the binary's structure (package wasm) as it
// streams, in the same pass as the hash: each chunk as it is read, while
// it is in the CPU cache, so nothing is read twice and no more than a
// chunk is held. A binary it refuses fails the upload with its
// *wasm.FormatError (wasm.ErrInvalidModule, errdefs.ErrInvalid) before the
// blob is committed: nothing of it is kept. What the parse finds is written
// in the index entry's own value (Info, InfoSummaries); a
// version without one (stored before uploads were parsed, its blob missing
// when the index was upgraded) is parsed on first use. Bytes the parser
// refuses that were stored earlier stay served: Info says why it has no
// record and Verify reports them as ProblemInvalidModule.
// UploadOptions.Check, Check and VerifyOptions.Deep validate in full with
// wasm/validate (wazero), which holds a module in memory while it compiles.
//
// Verification. Get hands out a reader that re-hashes the bytes as they are
// read; reading to the end fails with ErrModuleCorrupt (and errdefs.ErrCorrupt)
// where the bytes do not match. A missing blob, one of the wrong size, or
// something else than a regular file in its place (a FIFO is refused
// without blocking) is reported before any byte is read. An upload whose
// digest names a stored blob checks that blob (hashes it) and replaces it
// atomically when it is damaged, so an acknowledged upload is always
// readable; each such repair is logged and counted (Counters).
//
// Immutability. A version never changes its bytes: uploading it again with
// other bytes fails with errdefs.ErrConflict, also after Remove, which
// keeps a tombstone (name, version, digest, removal time; Tombstones). The
// same bytes may come back. RemoveWith's Forget drops the tombstone, on
// purpose breaking that rule. Tombstones are mirrored in
// ghost.modules.json, so a rebuild of the index keeps them, and it keeps
// each version's created time.
//
// The index file. Every write first checks that the file at index.db is
// still the one this process opened; if it was removed or replaced, writes
// fail with index.ErrUnlinked (errdefs.ErrUnavailable) instead of being
// acknowledged into a file the next start will not see. Verify reports it.
//
// The mirror. ghost.modules.json is replaced by rename, never seen
// half-written, and follows the index within MirrorDelay (changes are
// coalesced, so its cost does not grow into every upload). At Open it is
// compared with the index and rewritten when missing or stale (where that
// fails, on a full disk say, Open logs a warning and succeeds: the index
// is the truth); Close writes the last changes. A write that fails (a full
// disk) is retried by itself,
// backing off up to 30 s; verify reports the mirror stale meanwhile. Its
// shape, encoding and reading live in package modulesjson (the early
// gpmd's shape plus digest, size and created per version); the blob paths
// it names come from package blobstore, which owns every path under blobs/
// and ingest/ (this package asks it, and never spells them).
//
// Errors. Every error wraps an errdefs class with its subject (module
// name@version, blob digest, folder), tested with errors.Is: not found,
// invalid, conflict, too large, no space, corrupt. The narrower errors a
// caller must tell apart (ErrNotWasm, ErrEmpty, wasm.ErrInvalidModule, ErrModuleCorrupt,
// ErrIndexUnusable, ErrNotEmpty, index.ErrLocked) each wrap their class.
//
// Concurrency. A Repo is safe for concurrent use by many goroutines. One
// process at a time opens a folder: the index's file lock refuses a second
// one at once with index.ErrLocked.
//
// Early stores. Opening a folder that holds an early gpmd's store (a
// ghost.modules.json and <name>-<version>.wasm files, but no index) imports
// it: every module whose bytes match its hash comes in; the original
// ghost.modules.json is kept as ghost.modules.legacy.json and the .wasm
// files are left where they are.
//
// Restore sources are not trusted: only regular files are read (no
// symlink is followed, a FIFO never blocks), a blob up to the module size
// limit and the mirror up to modulesjson.MaxFileSize (64 MiB), and a copied
// index is used only when every record in it passes the rules of an upload;
// else the index is rebuilt from the mirror, whose bad entries are lost.
//
// # Caveats
//
// The mirror may lag the index by MirrorDelay, and after a crash by
// everything since its last write, until the next Open rebuilds it. Tools
// that need the exact state read the index (or call FlushMirror first).
package repo
