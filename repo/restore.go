package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/migrations"
	"github.com/ghost-network/gpmd/modulesjson"
)

// RestoreReport says what Restore or RebuildIndex did.
type RestoreReport struct {
	Source      string        `json:"source"`
	Blobs       int           `json:"blobs"`
	Bytes       int64         `json:"bytes"`
	BadBlobs    []Blob        `json:"bad_blobs"`    // in the source, but their bytes do not match their name
	IndexCopied bool          `json:"index_copied"` // the source's index.db was usable
	Rebuilt     bool          `json:"rebuilt"`      // the index was rebuilt from the mirror and the blobs
	IndexNote   string        `json:"index_note,omitempty"`
	Imported    int           `json:"imported"` // versions rebuilt from the mirror
	Lost        []Problem     `json:"lost"`     // versions the source names whose bytes it does not hold
	Verify      *VerifyReport `json:"verify,omitempty"`
}

// Restore fills the empty repository folder to from a backup folder (made
// by ExtractBackup), from a copy of a repository folder, or from a copy of a
// whole data folder (its modules/ folder is used), and verifies the result.
// The copy may have been taken with cp -a or rsync while the daemon ran:
// blobs are immutable and checked one by one, and where the copied index is
// unusable it is rebuilt from the copied mirror and blobs. Versions the
// source names but whose bytes it lacks are reported as lost, not restored.
// No daemon may be using to.
//
// The source is not trusted: only regular files are read (symlinks, FIFOs
// and devices are refused without blocking), each blob up to the module
// size limit, the mirror up to modulesjson.MaxFileSize, and every record of
// a copied index or of the mirror is checked as an upload would check it
// (a copied index that holds one such record is not used: the index is
// rebuilt from the mirror, whose bad entries are reported as lost).
func Restore(ctx context.Context, from, to string, opts Options) (RestoreReport, error) {
	rep := RestoreReport{BadBlobs: []Blob{}, Lost: []Problem{}}
	src, err := restoreSource(from)
	if err != nil {
		return rep, err
	}
	rep.Source = src
	if abs1, abs2 := absPath(src), absPath(to); abs1 == abs2 || strings.HasPrefix(abs2, abs1+string(filepath.Separator)) {
		return rep, fmt.Errorf("restore: target %s lies inside the source %s", to, src)
	}
	if err := requireEmpty(to); err != nil {
		return rep, fmt.Errorf("restore into %s: %w", to, err)
	}
	dst, err := blobstore.Open(to)
	if err != nil {
		return rep, err
	}
	maxSize := opts.MaxModuleSize
	if maxSize <= 0 {
		maxSize = DefaultMaxModuleSize
	}
	// The blobs first: each is checked against its name as it is copied,
	// read only when it is a regular file (never through a symlink, never
	// blocking on a FIFO) and only up to the module size limit.
	err = blobstore.WalkFolder(ctx, src, func(info blobstore.Info, path string) error {
		f, _, err := fsutil.OpenRegular(path)
		if errors.Is(err, fsutil.ErrNotRegular) || errors.Is(err, fs.ErrNotExist) {
			// Swapped for something else, or gone, since the walk
			// listed it: not a blob.
			rep.BadBlobs = append(rep.BadBlobs, Blob{Digest: info.Digest, Size: info.Size})
			return nil
		}
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		got, _, err := dst.Put(ctx, f, info.Digest, maxSize)
		f.Close()
		switch {
		case errors.Is(err, errdefs.ErrCorrupt), errors.Is(err, errdefs.ErrTooLarge):
			rep.BadBlobs = append(rep.BadBlobs, Blob{Digest: info.Digest, Size: info.Size})
		case err != nil:
			return fmt.Errorf("restore: blob %s: %w", info.Digest, err)
		default:
			rep.Blobs++
			rep.Bytes += got.Size
		}
		return nil
	})
	if err != nil {
		return rep, err
	}

	// Then the index: the copy when it is whole, else a rebuild.
	if note, err := copyIndex(filepath.Join(src, IndexFile), filepath.Join(to, IndexFile)); err != nil {
		rep.IndexNote = note
		os.Remove(filepath.Join(to, IndexFile))
		if err := rebuildFromMirror(ctx, src, to, opts, &rep); err != nil {
			return rep, fmt.Errorf("restore: %w", err)
		}
	} else {
		rep.IndexCopied = true
	}

	r, err := Open(ctx, to, opts)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	if rep.IndexCopied {
		// A live copy may name blobs committed after blobs/ was copied.
		lost, err := r.dropVersionsWithoutBlobs(ctx)
		if err != nil {
			return rep, err
		}
		rep.Lost = append(rep.Lost, lost...)
	}
	v, err := r.Verify(ctx)
	if err != nil {
		return rep, err
	}
	rep.Verify = &v
	return rep, nil
}

// restoreSource finds the repository folder inside from.
func restoreSource(from string) (string, error) {
	for _, dir := range []string{from, filepath.Join(from, "modules")} {
		for _, f := range []string{IndexFile, modulesjson.FileName} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				return dir, nil
			}
		}
	}
	return "", fmt.Errorf("restore: %s holds no %s or %s (nor does %s)", from, IndexFile, modulesjson.FileName, filepath.Join(from, "modules"))
}

func absPath(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return filepath.Clean(a)
}

// copyIndex copies a bbolt index and checks that the copy opens, upgrades
// and passes bbolt's consistency check. On failure it says why.
func copyIndex(from, to string) (note string, err error) {
	f, _, err := fsutil.OpenRegular(from)
	if err != nil {
		return fmt.Sprintf("no usable %s in the source (%v); rebuilt from the mirror", IndexFile, err), err
	}
	defer f.Close()
	if err := fsutil.WriteFileAtomic(to, f, fsutil.FileMode); err != nil {
		return "", err
	}
	if _, err := migrations.Upgrade(to); err != nil {
		return fmt.Sprintf("the copied %s is unusable (%v); rebuilt from the mirror", IndexFile, err), err
	}
	idx, err := index.Open(to, index.Options{})
	if err != nil {
		return fmt.Sprintf("the copied %s is unusable (%v); rebuilt from the mirror", IndexFile, err), err
	}
	defer idx.Close()
	if err := idx.Check(); err != nil {
		return fmt.Sprintf("the copied %s fails its check (%v); rebuilt from the mirror", IndexFile, err), err
	}
	return "", nil
}

// dropVersionsWithoutBlobs removes index entries whose blob is absent and
// reports them.
func (r *Repo) dropVersionsWithoutBlobs(ctx context.Context) ([]Problem, error) {
	var missing []index.Record
	err := r.idx.Walk(func(rec index.Record) error {
		if _, err := r.blobs.Stat(rec.Digest); errors.Is(err, errdefs.ErrNotFound) {
			missing = append(missing, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	lost := []Problem{}
	for _, rec := range missing {
		if _, _, err := r.idx.Remove(rec.Name, rec.Version); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return lost, err
		}
		lost = append(lost, Problem{Kind: ProblemMissing, Name: rec.Name, Version: rec.Version, Digest: rec.Digest,
			Message: fmt.Sprintf("%s@%s: the source does not hold blob %s", rec.Name, rec.Version, rec.Digest)})
	}
	if len(missing) > 0 {
		r.mirror.markDirty()
	}
	return lost, r.FlushMirror(ctx)
}

// RebuildIndex rebuilds the index of the repository in dir from its
// ghost.modules.json and its blobs, for when index.db was deleted or
// damaged while the daemon was down. A damaged index.db is kept beside as
// index.db.damaged-<unix time>. Versions the mirror names whose blob is
// absent or wrong are reported as lost; versions uploaded after the mirror's
// last write are not in it (their blobs remain, as garbage).
func RebuildIndex(ctx context.Context, dir string, opts Options) (RestoreReport, error) {
	rep := RestoreReport{Source: dir, BadBlobs: []Blob{}, Lost: []Problem{}, Rebuilt: true}
	if _, err := modulesjson.Read(dir); err != nil {
		return rep, fmt.Errorf("rebuild: %s cannot be read: %w", filepath.Join(dir, modulesjson.FileName), err)
	}
	indexPath := filepath.Join(dir, IndexFile)
	if _, err := os.Stat(indexPath); err == nil {
		aside := fmt.Sprintf("%s.damaged-%d", indexPath, time.Now().Unix())
		if err := os.Rename(indexPath, aside); err != nil {
			return rep, fmt.Errorf("rebuild: %w", err)
		}
		rep.IndexNote = "the old index was kept as " + aside
	}
	if err := rebuildFromMirror(ctx, dir, dir, opts, &rep); err != nil {
		return rep, fmt.Errorf("rebuild: %w", err)
	}
	r, err := Open(ctx, dir, opts)
	if err != nil {
		return rep, err
	}
	defer r.Close()
	v, err := r.Verify(ctx)
	if err != nil {
		return rep, err
	}
	rep.Verify = &v
	return rep, nil
}

// rebuildFromMirror builds the index of the repository in dir (which has
// none) from the mirror and blobs of src (dir itself for a rebuild in
// place), and records in rep what came in and what was lost.
func rebuildFromMirror(ctx context.Context, src, dir string, opts Options, rep *RestoreReport) error {
	r, err := open(ctx, dir, opts, true)
	if err != nil {
		return err
	}
	imp, err := migrations.ImportLegacy(ctx, src, r)
	if err != nil {
		r.closeRebuilding()
		return fmt.Errorf("rebuilding the index from %s: %w", filepath.Join(src, modulesjson.FileName), err)
	}
	rep.Rebuilt, rep.Imported = true, len(imp.Imported)
	for _, ref := range imp.Refused {
		rep.Lost = append(rep.Lost, Problem{Kind: ProblemMissing, Name: ref.Name, Version: ref.Version, Message: ref.Reason})
	}
	// The tombstones come back too, so removed versions stay immutable.
	// One whose version is stored again is moot; one that breaks the rules
	// of an upload is reported, like a version, and left out.
	tombs, bad, err := modulesjson.ReadTombstones(src)
	if err != nil {
		r.closeRebuilding()
		return fmt.Errorf("rebuilding the tombstones from %s: %w", filepath.Join(src, modulesjson.FileName), err)
	}
	for _, t := range tombs {
		if err := r.idx.AddTombstone(t); err != nil && !errors.Is(err, errdefs.ErrConflict) {
			bad = append(bad, err)
		}
	}
	for _, err := range bad {
		rep.Lost = append(rep.Lost, Problem{Kind: ProblemIndex, Message: "tombstone left out: " + err.Error()})
	}
	return r.closeRebuilding()
}

// closeRebuilding closes a Repo opened for a rebuild (its mirror writer was
// never started): it writes the mirror from the new index and closes it.
func (r *Repo) closeRebuilding() error {
	_, serr := r.mirror.sync()
	return errors.Join(serr, r.idx.Close())
}
