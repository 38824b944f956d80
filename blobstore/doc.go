// Package blobstore keeps bytes by their SHA-256 digest, in the OCI
// image-layout on disk:
//
//	<root>/blobs/sha256/<64 lower-case hex>   committed blobs, mode 0444
//	<root>/ingest/                            temporary files of writes in progress
//
// Nothing else lives in blobs/. Only sha256 digests written as
// "sha256:" and 64 lower-case hex digits are accepted; every path under
// blobs/ is derived from such a digest in one function, so no name can reach
// outside the root. Anything else is refused with errdefs.ErrInvalid.
//
// This package is the one home of that layout: callers that need a blob's
// path relative to the root (RelPath, ParseRelPath), to know whether a
// folder holds blobs before they may open it (HoldsBlobs), to read another
// store's folder (WalkFolder) or to remove stale temporary files
// (RemoveStaleIngest) ask here instead of spelling blobs/ or ingest/.
//
// Errors wrap the errdefs classes with the blob's digest as subject:
// ErrNotFound, ErrInvalid (a bad digest), ErrCorrupt (bytes that do not
// hash to their digest), ErrTooLarge.
//
// # Guarantees
//
// Every file under blobs/ is complete or absent, at every instant, also
// across a crash or power cut: a blob is written to a temporary file in
// ingest/ (same filesystem), hashed while it is written, made read-only,
// fsynced, closed and checked, and only then renamed into blobs/sha256, after
// which the directory is fsynced. A blob becomes visible at that rename, and
// Commit (or Put) returns only after the directory fsync. So a backup tool
// may copy blobs/ while the store is live, and what it copies is whole.
//
// A write that names the digest it expects fails with errdefs.ErrCorrupt when
// the bytes hash to something else, and leaves nothing behind. A write past
// its size limit fails with errdefs.ErrTooLarge and leaves nothing behind. So does a
// failed write, fsync or rename (a full disk, say).
//
// Identical bytes are stored once. Writing bytes that are already stored is
// a success (existed is true) and costs two hashes (the input's and the
// stored copy's), not a write:
//   - A Writer keeps the first 256 KiB in memory and creates its temporary
//     file only when the data outgrows that or at Commit, after it has
//     checked that the blob is not stored; so a duplicate of up to 256 KiB
//     never touches the disk.
//   - A larger duplicate has been written to a temporary file by the time
//     Commit knows its digest; that file is removed without fsync or rename.
//   - Put with an expected digest that is already stored only hashes the
//     input to check it; it writes nothing at all.
//
// A write never trusts a stored copy by its name: Commit and Put hash it
// first, and where it is damaged (other bytes or size, or not a regular
// file) the write replaces it atomically with its own checked bytes, logs
// a warning and counts it (Repaired). So a successful write always leaves a
// readable blob.
//
// Opening a blob never blocks and never follows a symlink: it is opened
// O_NONBLOCK|O_NOFOLLOW and its type read from the open descriptor;
// anything but a regular file fails with ErrNotRegular (an
// errdefs.ErrCorrupt). Irregulars lists such entries under blobs/.
//
// Reading verifies: a Reader hashes what it returns, and the read that
// reaches the end returns an error wrapping errdefs.ErrCorrupt, instead of
// io.EOF, when the bytes on disk do not hash to their digest. Verify does the
// same for a whole blob.
//
// A crash can leave only temporary files in ingest/. Open removes them.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines. Each change to
// blobs/ is one atomic rename or unlink. Writers of the same bytes at the same
// time all succeed: each either finds the blob stored, or renames its own
// identical copy over it; a reader sees one whole copy or the other. A Writer
// and a Reader each belong to one goroutine at a time. A Reader that is open
// while its blob is deleted keeps reading the old file.
//
// # Caveats
//
//   - Durability is only as good as the filesystem's fsync: on a filesystem
//     or disk that acknowledges fsync without writing (some network and FUSE
//     filesystems, disks with volatile write caches), a power cut can still
//     lose or damage a committed blob. Readers then report errdefs.ErrCorrupt.
//   - Open sweeps ingest/, so only one process may use a store at a time: a
//     second process opening it would delete the first one's writes in
//     progress. The index lock (package index) is what enforces that.
//   - The store does not know which blobs are in use. Deleting a blob that a
//     concurrent write has just reported as existing loses it; garbage
//     collection must keep writers out while it deletes (that is the
//     caller's job).
//   - Bytes a Reader returns before the end are not verified yet.
//   - If the final directory fsync of a commit fails, Commit returns an error
//     although the blob is visible (complete and correct, durability unknown).
package blobstore
