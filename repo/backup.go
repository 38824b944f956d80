package repo

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
	recs, tombs, err := r.idx.Snapshot(snap)
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
	mirror, err := modulesjson.EncodeRecords(recs, tombs)
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

// ExtractBackup writes the tar stream of WriteBackup into dir. dir must not
// exist (it is created, 0700) or be an empty folder owned by the caller's
// user (then made 0700): never a folder another user can plant entries in.
// Only index.db, ghost.modules.json and blobs/sha256/<hex> entries are
// taken; each blob is checked against its name as it is written, every
// file is private (0600, blobs 0400) and written durably.
//
// Every path under dir is created through an os.Root opened on dir once it
// is checked, with O_EXCL temporary names: a symlink planted anywhere below
// (blobs/sha256 swapped for a link mid-backup) that leads out of dir is
// refused, never followed, and dir itself being renamed away or swapped
// changes nothing, the writes go on into the folder that was checked.
func ExtractBackup(ctx context.Context, rd io.Reader, dir string) (BackupReport, error) {
	var rep BackupReport
	root, err := openBackupTarget(dir)
	if err != nil {
		return rep, err
	}
	defer root.Close()
	blobDir, err := blobstore.RelPath(digest.NewDigestFromEncoded(digest.SHA256, strings.Repeat("0", 64)))
	if err != nil {
		return rep, err
	}
	blobDir = filepath.Dir(blobDir)
	if err := root.MkdirAll(blobDir, 0o700); err != nil {
		return rep, fmt.Errorf("backup: %w", err)
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
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		switch {
		case hdr.Name == IndexFile || hdr.Name == modulesjson.FileName:
			if _, err := writeInRoot(root, hdr.Name, tr, fsutil.FileMode, ""); err != nil {
				return rep, fmt.Errorf("backup: %s: %w", hdr.Name, err)
			}
			sawIndex = sawIndex || hdr.Name == IndexFile
			sawMirror = sawMirror || hdr.Name == modulesjson.FileName
		case isBlobEntry(hdr.Name):
			d, _, err := blobstore.ParseRelPath(hdr.Name)
			if err != nil {
				return rep, fmt.Errorf("backup stream: bad entry %q", hdr.Name)
			}
			rel, err := blobstore.RelPath(d)
			if err != nil {
				return rep, fmt.Errorf("backup stream: bad entry %q", hdr.Name)
			}
			n, err := writeInRoot(root, rel, tr, 0o400, d)
			if err != nil {
				return rep, fmt.Errorf("backup stream: %s: %w", hdr.Name, err)
			}
			rep.Blobs++
			rep.Bytes += n
		default:
			return rep, fmt.Errorf("backup stream: unexpected entry %q", hdr.Name)
		}
	}
	if !sawIndex || !sawMirror {
		return rep, fmt.Errorf("backup stream is incomplete: index %v, mirror %v", sawIndex, sawMirror)
	}
	for _, d := range []string{blobDir, filepath.Dir(blobDir), "."} {
		if err := syncInRoot(root, d); err != nil {
			return rep, fmt.Errorf("backup: %w", err)
		}
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

// ErrTargetNotOwned: a backup target that exists and belongs to another
// user, or is not a plain folder. It is an errdefs.ErrInvalid.
var ErrTargetNotOwned = errdefs.Narrow("target is not a folder of yours", errdefs.ErrInvalid)

// openBackupTarget creates dir (0700) or accepts an existing empty folder
// of the caller's user, not a symlink, and opens it as an os.Root. The
// checks are made on the opened folder (owner, emptiness after the mode is
// made 0700, same inode as the path named), so no swap between check and
// use can slip another folder in.
func openBackupTarget(dir string) (*os.Root, error) {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	before, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !before.IsDir() {
		return nil, fmt.Errorf("%w: %s is a %s, not a folder", ErrTargetNotOwned, dir, fileKind(before.Mode()))
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.Root, error) {
		root.Close()
		return nil, err
	}
	fi, err := root.Stat(".")
	if err != nil {
		return fail(err)
	}
	if !os.SameFile(before, fi) {
		return fail(fmt.Errorf("%w: %s changed while it was being opened", ErrTargetNotOwned, dir))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		uid := -1
		if ok {
			uid = int(st.Uid)
		}
		return fail(fmt.Errorf("%w: %s belongs to uid %d, not to you (uid %d): give a folder of yours, or one that does not exist", ErrTargetNotOwned, dir, uid, os.Geteuid()))
	}
	// Private before it is checked empty: nobody else can add an entry
	// after the check.
	if err := root.Chmod(".", 0o700); err != nil {
		return fail(err)
	}
	f, err := root.Open(".")
	if err != nil {
		return fail(err)
	}
	names, err := f.Readdirnames(1)
	f.Close()
	if err != nil && err != io.EOF {
		return fail(err)
	}
	if len(names) > 0 {
		return fail(fmt.Errorf("%w: %s holds entries", errdefs.ErrNotEmpty, dir))
	}
	return root, nil
}

// fileKind names a mode's file type for a message.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeSymlink != 0:
		return "symlink"
	case m.IsRegular():
		return "file"
	default:
		return "special file"
	}
}

// writeInRoot writes r to name under root durably: a temporary file beside
// it created with O_EXCL (never an existing file or link), fsync, mode,
// rename. With want set, the bytes must hash to it. It returns the bytes
// written.
func writeInRoot(root *os.Root, name string, r io.Reader, perm os.FileMode, want digest.Digest) (n int64, err error) {
	var sfx [8]byte
	if _, err := rand.Read(sfx[:]); err != nil {
		return 0, err
	}
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+"."+hex.EncodeToString(sfx[:])+".tmp")
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			root.Remove(tmp)
		}
	}()
	var w io.Writer = f
	var dg digest.Digester
	if want != "" {
		dg = want.Algorithm().Digester()
		w = io.MultiWriter(f, dg.Hash())
	}
	if n, err = io.Copy(w, r); err != nil {
		return n, err
	}
	if dg != nil && dg.Digest() != want {
		return n, fmt.Errorf("%w: the bytes hash to %s", errdefs.ErrCorrupt, dg.Digest())
	}
	if err = f.Chmod(perm); err != nil {
		return n, err
	}
	if err = f.Sync(); err != nil {
		return n, err
	}
	if err = f.Close(); err != nil {
		return n, err
	}
	return n, root.Rename(tmp, name)
}

// syncInRoot fsyncs the folder name under root, so the renames in it are
// durable.
func syncInRoot(root *os.Root, name string) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
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
		return fmt.Errorf("%w: %s holds %d entries", errdefs.ErrNotEmpty, dir, len(entries))
	}
	return nil
}

// isBlobEntry reports whether a backup stream's entry is meant as a blob.
func isBlobEntry(name string) bool {
	_, inBlobs, _ := blobstore.ParseRelPath(name)
	return inBlobs
}
