package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/ghost-network/gpmd/migrations"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/opencontainers/go-digest"
)

// DefaultMaxModuleSize is the largest module Upload takes by default.
const DefaultMaxModuleSize = 256 << 20

// IndexFile is the name of the bbolt index inside the repository folder.
const IndexFile = "index.db"

// LegacyBackupFile keeps an early gpmd's ghost.modules.json when the
// repository imports it, before the mirror takes its place.
const LegacyBackupFile = "ghost.modules.legacy.json"

// Errors. Errors from Repo wrap an errdefs class (not found, invalid,
// conflict, too large, no space, corrupt) with their subject, tested with
// errors.Is. The narrower errors below must stay distinguishable; each also
// belongs to its class.
var (
	// ErrIndexUnusable: the index is missing while the store holds blobs,
	// or it cannot be read. The message says how to bring it back. It is an
	// errdefs.ErrCorrupt.
	ErrIndexUnusable = errdefs.Narrow("index unusable", errdefs.ErrCorrupt)
)

// Options for Open.
type Options struct {
	MaxModuleSize int64         // 0: DefaultMaxModuleSize
	MirrorDelay   time.Duration // how long mirror writes are coalesced; 0: DefaultMirrorDelay
	LockTimeout   time.Duration // 0: index default
	Logger        *slog.Logger  // nil: discard
	Observer      Observer      // nil: nobody is told of changes (observe.go)
	// NoGroupCommit: every upload commits its index entry alone, as
	// before the group commit (benchmarks only; see index.Options).
	NoGroupCommit bool
}

// Repo is the module repository in one folder (<data>/modules). Safe for
// concurrent use.
type Repo struct {
	dir     string
	maxSize int64
	log     *slog.Logger
	blobs   *blobstore.Store
	idx     *index.DB
	mirror  *mirror

	// mu guards leases. A lease is held on a digest from before its blob is
	// committed until its index entry is written, so that a collection (or
	// the blob delete of Remove), which decides under mu, never removes a
	// blob that an upload is about to name.
	mu     sync.Mutex
	leases map[digest.Digest]int

	notify notifier // tells Options.Observer of each change

	// noParse skips the structural parse of uploads: set only by the
	// benchmark's baseline (export_test.go), never in the product.
	noParse bool
}

// Open opens or creates the repository in dir. It upgrades an older index
// schema, takes the index's lock (index.ErrLocked when another process holds it),
// removes leftovers of interrupted writes, imports an early gpmd's store
// found in dir, and rebuilds ghost.modules.json when it is missing or stale
// (when that write fails, a full disk say, Open logs a warning and
// succeeds: the background writer retries).
func Open(ctx context.Context, dir string, opts Options) (*Repo, error) {
	r, err := open(ctx, dir, opts, false)
	if err != nil {
		return nil, err
	}
	go r.mirror.run()
	return r, nil
}

// open is Open; rebuilding opens a store whose index is being rebuilt from
// its mirror: no refusal of a missing index, no import, no mirror sync and
// no mirror writer yet (Rebuild does those).
func open(ctx context.Context, dir string, opts Options, rebuilding bool) (*Repo, error) {
	if opts.MaxModuleSize <= 0 {
		opts.MaxModuleSize = DefaultMaxModuleSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, fsutil.DirMode); err != nil {
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	indexPath := filepath.Join(dir, IndexFile)
	_, statErr := os.Stat(indexPath)
	freshIndex := errors.Is(statErr, os.ErrNotExist)
	if freshIndex && !rebuilding && blobstore.HoldsBlobs(dir) {
		return nil, fmt.Errorf("%w: %s is missing but %s holds module blobs; restore a backup (gpmd restore) or rebuild the index from %s and the blobs (gpmd rebuild-index)",
			ErrIndexUnusable, indexPath, dir, modulesjson.FileName)
	}
	legacy := freshIndex && !rebuilding && migrations.IsLegacyStore(dir)

	if from, err := migrations.UpgradeWith(indexPath, index.Options{Timeout: opts.LockTimeout}); err != nil {
		return nil, explainIndexError(indexPath, err)
	} else if from != 0 && from != index.SchemaVersion {
		opts.Logger.Info("index schema upgraded", "from", from, "to", index.SchemaVersion)
	}
	idx, err := index.Open(indexPath, index.Options{Timeout: opts.LockTimeout, NoGroupCommit: opts.NoGroupCommit})
	if err != nil {
		return nil, explainIndexError(indexPath, err)
	}
	// The blob store sweeps its leftovers at open, so it is opened only
	// once this process holds the index lock.
	blobs, err := blobstore.OpenWith(dir, blobstore.Options{Logger: opts.Logger})
	if err != nil {
		idx.Close()
		return nil, fmt.Errorf("repository %s: %w", dir, err)
	}
	removeMirrorTemps(dir, opts.Logger)
	r := &Repo{
		dir:     dir,
		maxSize: opts.MaxModuleSize,
		log:     opts.Logger,
		blobs:   blobs,
		idx:     idx,
		mirror:  newMirror(dir, idx, opts.MirrorDelay, opts.Logger),
		leases:  make(map[digest.Digest]int),
		notify:  notifier{obs: opts.Observer},
	}
	if rebuilding {
		return r, nil
	}
	if legacy {
		if err := r.importInPlace(ctx); err != nil {
			idx.Close()
			return nil, err
		}
	}
	if rewritten, err := r.mirror.sync(); err != nil {
		// The index is the truth and the mirror only its copy: a mirror
		// that cannot be written now (a full disk) must not keep the
		// repository, and with it the means to free space (gc, rm), out
		// of reach. The writer retries until it catches up.
		opts.Logger.Warn("mirror cannot be rewritten from the index now; the index is the truth and the writer retries", "path", r.mirror.path, "err", err)
		r.mirror.markDirty()
	} else if rewritten {
		opts.Logger.Info("mirror rebuilt from the index", "path", r.mirror.path)
	}
	return r, nil
}

// explainIndexError says what to do about an index that does not open.
// A lock held by another process or a newer schema are not damage.
func explainIndexError(path string, err error) error {
	if errors.Is(err, index.ErrLocked) || errors.Is(err, index.ErrSchemaTooNew) {
		return fmt.Errorf("index %s: %w", path, err)
	}
	return fmt.Errorf("%w: index %s cannot be opened (%w); if it is damaged, restore a backup (gpmd restore) or rebuild it from %s and the blobs (gpmd rebuild-index)",
		ErrIndexUnusable, path, err, modulesjson.FileName)
}

// importInPlace brings in the early gpmd's store that lives in the
// repository folder itself. Its ghost.modules.json is kept under
// LegacyBackupFile first (the mirror replaces it), and its .wasm files stay
// where they are.
func (r *Repo) importInPlace(ctx context.Context) error {
	src := filepath.Join(r.dir, modulesjson.FileName)
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading early store: %w", err)
	}
	if err := fsutil.WriteFileAtomicBytes(filepath.Join(r.dir, LegacyBackupFile), data, fsutil.FileMode); err != nil {
		return err
	}
	report, err := migrations.ImportLegacy(ctx, r.dir, r)
	if err != nil {
		return fmt.Errorf("importing early store in %s: %w", r.dir, err)
	}
	r.log.Info("early gpmd store imported", "imported", len(report.Imported), "refused", len(report.Refused), "kept", LegacyBackupFile)
	for _, ref := range report.Refused {
		r.log.Warn("early module left out", "name", ref.Name, "version", ref.Version, "reason", ref.Reason)
	}
	return nil
}

// removeMirrorTemps removes temporary files of mirror writes and backups
// left by a crash.
func removeMirrorTemps(dir string, log *slog.Logger) {
	tmps, _ := filepath.Glob(filepath.Join(dir, "."+modulesjson.FileName+".*.tmp"))
	backups, _ := filepath.Glob(filepath.Join(dir, ".backup-*.db"))
	for _, t := range append(tmps, backups...) {
		if err := os.Remove(t); err == nil {
			log.Info("removed leftover", "path", t)
		}
	}
}

// Close writes the last mirror changes and closes the index. Uploads must
// have returned before Close is called.
func (r *Repo) Close() error {
	merr := r.mirror.close()
	ierr := r.idx.Close()
	return errors.Join(merr, ierr)
}

// Dir is the repository folder.
func (r *Repo) Dir() string { return r.dir }

// MaxModuleSize is the largest module Upload takes.
func (r *Repo) MaxModuleSize() int64 { return r.maxSize }

// UploadOptions are the choices of an upload beyond its name, version
// and bytes.
type UploadOptions struct {
	// Expected, when not empty, is the digest the caller claims for the
	// bytes (errdefs.ErrCorrupt otherwise).
	Expected digest.Digest
	// Created, when not zero, is kept as the version's creation time
	// (UploadCreated).
	Created time.Time
	// Check validates the module in full with wasm/validate (wazero) once
	// its bytes are stored and before the version is indexed: a module it
	// refuses (wasm.ErrInvalidModule), or one that needs a feature it
	// lacks (errors.ErrUnsupported), is not kept. It holds the module in
	// memory while it compiles.
	Check bool
}

// Upload stores a module version: ref was parsed at the caller's boundary
// (index.ParseRef) and is not checked again. It checks that the bytes are a
// WebAssembly binary of at most MaxModuleSize bytes whose
// structure the parser (package wasm) accepts, in the same pass as the
// hash, writes the blob durably, then the index entry with what the parse
// recorded (Info); the mirror follows shortly after. A binary the parser
// refuses fails with a *wasm.FormatError (wasm.ErrInvalidModule,
// errdefs.ErrInvalid) that says what and where, and nothing of it is kept.
// expected, when not empty, is the digest the caller claims for the bytes
// (errdefs.ErrCorrupt otherwise). The same version with the same bytes again
// succeeds and changes nothing; with other bytes it fails with errdefs.ErrConflict.
//
// A removed version keeps a tombstone: the same bytes may come back, other
// bytes fail with errdefs.ErrConflict (see RemoveWith's Forget). When the
// digest names a blob that is stored but damaged, the upload replaces it
// (see Counters). When the index file was removed or replaced under the
// running process, the upload fails with index.ErrUnlinked.
func (r *Repo) Upload(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest) (index.Record, error) {
	return r.UploadWith(ctx, ref, body, UploadOptions{Expected: expected})
}

// UploadCreated is Upload keeping created as the version's creation time
// (zero: now). A rebuild from ghost.modules.json uses it, so that versions
// keep the time they were first uploaded (migrations.CreatedUploader).
func (r *Repo) UploadCreated(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest, created time.Time) (index.Record, error) {
	return r.UploadWith(ctx, ref, body, UploadOptions{Expected: expected, Created: created})
}

// UploadWith is Upload with options.
func (r *Repo) UploadWith(ctx context.Context, ref index.Ref, body io.Reader, opts UploadOptions) (index.Record, error) {
	expected := opts.Expected
	fail := func(err error) (index.Record, error) {
		if errors.Is(err, syscall.ENOSPC) {
			// The cause's text names a temporary file, which tells the
			// reader nothing; say what happened and what to do.
			err = fmt.Errorf("%w on the disk holding %s; free some space (gpmd gc removes blobs no version names) and upload again", errdefs.ErrNoSpace, r.dir)
		}
		return index.Record{}, fmt.Errorf("upload %s: %w", ref, err)
	}
	br, err := readWasmHeader(body)
	if err != nil {
		return fail(err)
	}
	var parse *parsingReader
	if !r.noParse {
		parse = newParsingReader(br)
		br = parse
	}

	var info blobstore.Info
	var release func()
	if expected != "" {
		// The digest is known: lease it first, and let the store skip the
		// write when the bytes already exist.
		release = sync.OnceFunc(r.lease(expected))
		defer release()
		info, _, err = r.blobs.Put(ctx, br, expected, r.maxSize)
		if err != nil {
			return fail(r.explainPut(err))
		}
	} else {
		w, err := r.blobs.NewWriter(ctx, r.maxSize)
		if err != nil {
			return fail(err)
		}
		defer w.Close()
		if _, err := io.Copy(w, br); err != nil {
			return fail(r.explainPut(err))
		}
		release = sync.OnceFunc(r.lease(w.Digest()))
		defer release()
		info, _, err = w.Commit(ctx, "")
		if err != nil {
			return fail(r.explainPut(err))
		}
	}
	if opts.Check {
		if err := r.checkBlob(ctx, info.Digest); err != nil {
			// Not kept: the blob goes unless a version or another
			// upload names it.
			release()
			r.mu.Lock()
			_, derr := r.deleteBlobIfUnusedLocked(info.Digest)
			r.mu.Unlock()
			if derr != nil {
				r.log.Warn("blob of a refused upload left for gc", "digest", info.Digest, "err", derr)
			}
			return fail(err)
		}
	}

	entry := index.Entry{Ref: ref, Digest: info.Digest, Size: info.Size, Created: opts.Created}
	if parse != nil {
		// The benchmark's baseline (and tests of stores from before
		// uploads were parsed) have no parse and record none.
		mi, err := migrations.ModuleInfoOf(parse.info, nil)
		if err != nil {
			return fail(err)
		}
		entry.Info = &mi
	}
	var added bool
	rec, err := r.change(ref.Name(), true, func() (rec index.Record, _ bool, err error) {
		rec, added, err = r.idx.Add(entry)
		return rec, added, err
	})
	if err != nil {
		// A blob committed for a refused version is named by nothing yet:
		// garbage for a later collection, not an error of its own.
		return fail(err)
	}
	if added {
		r.mirror.markDirty()
	}
	return rec, nil
}

// explainPut adds the limit to a too-large error, for the person reading it,
// and gives the parser's refusal as it is: one line saying what and where,
// without the blob writer's "reading input" in front.
func (r *Repo) explainPut(err error) error {
	var fe *wasm.FormatError
	if errors.As(err, &fe) {
		return fe
	}
	if errors.Is(err, errdefs.ErrTooLarge) {
		return fmt.Errorf("%w: the limit is %d bytes (%s)", err, r.maxSize, units.FormatBytes(r.maxSize))
	}
	return err
}

// lease protects d from collection until the returned func is called.
func (r *Repo) lease(d digest.Digest) (release func()) {
	r.mu.Lock()
	r.leases[d]++
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		if r.leases[d]--; r.leases[d] <= 0 {
			delete(r.leases, d)
		}
		r.mu.Unlock()
	}
}

// deleteBlobIfUnusedLocked removes blob d when no version names it and no
// upload holds a lease on it. r.mu must be held.
func (r *Repo) deleteBlobIfUnusedLocked(d digest.Digest) (deleted bool, err error) {
	if r.leases[d] > 0 {
		return false, nil
	}
	refs, err := r.idx.Refs(d)
	if err != nil || refs > 0 {
		return false, err
	}
	if err := r.blobs.Delete(d); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Resolve finds the version q asks for (see index.DB.Resolve); q was
// parsed at the boundary (index.ParseQuery).
func (r *Repo) Resolve(ctx context.Context, q index.Query) (index.Record, error) {
	if err := ctx.Err(); err != nil {
		return index.Record{}, err
	}
	return r.idx.Resolve(q)
}

// Get resolves and opens the module's bytes for a verifying read: reading
// to the end fails with an error wrapping ErrModuleCorrupt and errdefs.ErrCorrupt
// where the bytes are wrong. A blob that is missing or of the wrong size is
// reported as ErrModuleCorrupt before any byte is read. The caller closes the
// reader. rec.Size is the number of bytes to expect.
func (r *Repo) Get(ctx context.Context, q index.Query) (index.Record, io.ReadCloser, error) {
	rec, err := r.Resolve(ctx, q)
	if err != nil {
		return index.Record{}, nil, err
	}
	rd, err := r.blobs.Open(rec.Digest)
	if err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return rec, nil, fmt.Errorf("%w: %s@%s: blob %s is missing", errdefs.ErrModuleCorrupt, rec.Name, rec.Version, rec.Digest)
		}
		if errors.Is(err, blobstore.ErrNotRegular) {
			return rec, nil, fmt.Errorf("%w: %s@%s: %w", errdefs.ErrModuleCorrupt, rec.Name, rec.Version, err)
		}
		return rec, nil, fmt.Errorf("module %s@%s: %w", rec.Name, rec.Version, err)
	}
	if rd.Size() != rec.Size {
		rd.Close()
		return rec, nil, fmt.Errorf("%w: %s@%s: blob %s holds %d bytes, the index says %d", errdefs.ErrModuleCorrupt, rec.Name, rec.Version, rec.Digest, rd.Size(), rec.Size)
	}
	return rec, &moduleReader{rd: rd, rec: rec}, nil
}

// moduleReader names the module in a verification failure.
type moduleReader struct {
	rd  *blobstore.Reader
	rec index.Record
}

func (m *moduleReader) Read(p []byte) (int, error) {
	n, err := m.rd.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, errdefs.ErrCorrupt) {
			err = fmt.Errorf("%w: %s@%s: %w", errdefs.ErrModuleCorrupt, m.rec.Name, m.rec.Version, err)
		}
	}
	return n, err
}

func (m *moduleReader) Close() error { return m.rd.Close() }

// List lists the modules of name (the zero Name for all), names sorted,
// versions highest first.
func (r *Repo) List(ctx context.Context, name index.Name) ([]index.Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.idx.List(name)
}

// RemoveOptions for RemoveWith.
type RemoveOptions struct {
	// Forget drops the version without keeping a tombstone, and drops the
	// tombstone of a version removed before: the version may then be
	// uploaded again with other bytes. It breaks the rule that a version
	// never changes its bytes, on purpose; GVMs that fetched the old bytes
	// may hold a different module under the same version.
	Forget bool
}

// Remove is RemoveWith without options: the version goes and a tombstone
// of it stays.
func (r *Repo) Remove(ctx context.Context, ref index.Ref) (index.Record, error) {
	return r.RemoveWith(ctx, ref, RemoveOptions{})
}

// RemoveWith deletes one exact version (semver equality). Its blob goes
// too when no other version names it; otherwise it stays for them. A
// tombstone (name, version, digest, removal time) stays, so the version
// can only come back with the same bytes, unless opts.Forget. A version
// that is not there fails with errdefs.ErrNotFound; with Forget, a
// version only tombstoned has its tombstone dropped and the returned
// record is empty.
func (r *Repo) RemoveWith(ctx context.Context, ref index.Ref, opts RemoveOptions) (index.Record, error) {
	if err := ctx.Err(); err != nil {
		return index.Record{}, err
	}
	var remaining int
	found := true
	rec, err := r.change(ref.Name(), false, func() (index.Record, bool, error) {
		var rec index.Record
		var err error
		if opts.Forget {
			rec, found, remaining, err = r.idx.Forget(ref)
		} else {
			rec, remaining, err = r.idx.Remove(ref)
		}
		// A Forget that dropped only a tombstone removed no live version.
		return rec, err == nil && found, err
	})
	if err != nil {
		return index.Record{}, fmt.Errorf("remove %s: %w", ref, err)
	}
	r.mirror.markDirty()
	if found && remaining == 0 {
		r.mu.Lock()
		_, err := r.deleteBlobIfUnusedLocked(rec.Digest)
		r.mu.Unlock()
		if err != nil {
			// The version is gone; its blob is garbage for gc.
			r.log.Warn("blob of a removed version left for gc", "digest", rec.Digest, "err", err)
		}
	}
	return rec, nil
}

// Tombstones lists the removed versions that keep their digest (see
// RemoveWith), names in order.
func (r *Repo) Tombstones(ctx context.Context) ([]index.Tombstone, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.idx.Tombstones()
}

// Counters are events counted since Open, for metrics.
type Counters struct {
	// BlobsRepaired counts uploads whose digest named a stored blob that
	// was damaged (other bytes, other size, not a regular file): the
	// upload replaced it atomically with its own, checked, bytes. Each is
	// also logged as a warning.
	BlobsRepaired uint64 `json:"blobs_repaired"`
}

// Counters reads the counters.
func (r *Repo) Counters() Counters {
	return Counters{BlobsRepaired: r.blobs.Repaired()}
}

// Stats counts what the repository holds.
func (r *Repo) Stats(ctx context.Context) (index.Stats, error) {
	if err := ctx.Err(); err != nil {
		return index.Stats{}, err
	}
	return r.idx.Stats()
}

// FlushMirror writes ghost.modules.json now if it is behind the index.
func (r *Repo) FlushMirror(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.mirror.flush()
}
