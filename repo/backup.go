package repo

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// BackupReport counts what a backup holds.
type BackupReport struct {
	Versions int   `json:"versions"`
	Blobs    int   `json:"blobs"`
	Bytes    int64 `json:"bytes"`
}

// WriteBackup writes a consistent snapshot of the repository to w as a tar
// stream: index.db as of one index transaction, every blob that snapshot
// names (verified as it is read: a corrupt blob fails the backup rather than
// being copied), and ghost.modules.json rendered from the same snapshot.
// Uploads and fetches go on meanwhile. ExtractBackup turns the stream into
// a folder that Restore takes.
func (r *Repo) WriteBackup(ctx context.Context, w io.Writer) (BackupReport, error) {
	var rep BackupReport
	snap, err := os.CreateTemp(r.dir, ".backup-*.db")
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(snap.Name())
	defer snap.Close()
	recs, err := r.idx.Snapshot(snap)
	if err != nil {
		return rep, fmt.Errorf("backup: snapshot of the index: %w", err)
	}
	rep.Versions = len(recs)
	tw := tar.NewWriter(w)
	now := time.Now()
	if err := tarFile(tw, IndexFile, snap, now); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	done := make(map[digest.Digest]bool)
	for _, rec := range recs {
		if done[rec.Digest] {
			continue
		}
		done[rec.Digest] = true
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rd, err := r.blobs.Open(rec.Digest)
		if err != nil {
			return rep, fmt.Errorf("backup: %s@%s: %w", rec.Name, rec.Version, err)
		}
		name, err := blobstore.RelPath(rec.Digest)
		if err != nil {
			rd.Close()
			return rep, fmt.Errorf("backup: %s@%s: %w", rec.Name, rec.Version, err)
		}
		hdr := &tar.Header{Name: name, Mode: 0o444, Size: rd.Size(), ModTime: now, Typeflag: tar.TypeReg}
		err = tw.WriteHeader(hdr)
		if err == nil {
			_, err = io.Copy(tw, rd)
		}
		rd.Close()
		if err != nil {
			return rep, fmt.Errorf("backup: %s@%s (%s): %w", rec.Name, rec.Version, rec.Digest, err)
		}
		rep.Blobs++
		rep.Bytes += hdr.Size
	}
	mirror, err := modulesjson.EncodeRecords(recs)
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	hdr := &tar.Header{Name: modulesjson.FileName, Mode: 0o644, Size: int64(len(mirror)), ModTime: now, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	if _, err := tw.Write(mirror); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	if err := tw.Close(); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	return rep, nil
}

func tarFile(tw *tar.Writer, name string, f *os.File, mtime time.Time) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// ErrNotEmpty: a backup or restore target that already holds something.
// It is an errdefs.ErrInvalid (a bad argument: the target).
var ErrNotEmpty error = &classError{"target is not empty", errdefs.ErrInvalid}

// ExtractBackup writes the tar stream of WriteBackup into dir, which must
// not exist or be empty. Only index.db, ghost.modules.json and
// blobs/sha256/<hex> entries are taken; each blob is checked against its
// name as it is written, and every file is written durably.
func ExtractBackup(ctx context.Context, rd io.Reader, dir string) (BackupReport, error) {
	var rep BackupReport
	if err := requireEmpty(dir); err != nil {
		return rep, err
	}
	blobs, err := blobstore.Open(dir)
	if err != nil {
		return rep, err
	}
	tr := tar.NewReader(rd)
	sawIndex, sawMirror := false, false
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("reading backup stream: %w", err)
		}
		switch {
		case hdr.Name == IndexFile || hdr.Name == modulesjson.FileName:
			if err := fsutil.WriteFileAtomic(filepath.Join(dir, hdr.Name), tr, fsutil.FileMode); err != nil {
				return rep, err
			}
			sawIndex = sawIndex || hdr.Name == IndexFile
			sawMirror = sawMirror || hdr.Name == modulesjson.FileName
		case isBlobEntry(hdr.Name):
			d, _, err := blobstore.ParseRelPath(hdr.Name)
			if err != nil {
				return rep, fmt.Errorf("backup stream: bad entry %q", hdr.Name)
			}
			info, _, err := blobs.Put(ctx, tr, d, 0)
			if err != nil {
				return rep, fmt.Errorf("backup stream: %s: %w", hdr.Name, err)
			}
			rep.Blobs++
			rep.Bytes += info.Size
		default:
			return rep, fmt.Errorf("backup stream: unexpected entry %q", hdr.Name)
		}
	}
	if !sawIndex || !sawMirror {
		return rep, fmt.Errorf("backup stream is incomplete: index %v, mirror %v", sawIndex, sawMirror)
	}
	entries, err := modulesjson.Read(dir)
	if err != nil {
		return rep, fmt.Errorf("backup stream: its %s: %w", modulesjson.FileName, err)
	}
	for _, e := range entries {
		if e.Err == nil {
			rep.Versions++
		}
	}
	return rep, nil
}

// requireEmpty accepts a folder that does not exist (and creates it) or
// is empty.
func requireEmpty(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, fsutil.DirMode)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: %s holds %d entries", ErrNotEmpty, dir, len(entries))
	}
	return nil
}

// isBlobEntry reports whether a backup stream's entry is meant as a blob.
func isBlobEntry(name string) bool {
	_, inBlobs, _ := blobstore.ParseRelPath(name)
	return inBlobs
}
