package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/opencontainers/go-digest"
)

// This file answers questions about the layout for callers that must not,
// or need not, open a Store: where a blob lives relative to the root (the
// mirror and backups name it), whether a folder holds blobs (before the
// index lock is taken), a walk over another store's folder (restore reads a
// copy), and the removal of stale temporary files. The layout is spelled out
// here and in blobstore.go only.

// relPrefix is the slash-separated folder of blobs relative to the root, as
// ghost.modules.json and backup streams write it.
const relPrefix = blobsDirName + "/" + algDirName + "/"

// RelPath is where blob d lives relative to a store's root, with slashes
// ("blobs/sha256/<hex>"), after validating d (errdefs.ErrInvalid).
func RelPath(d digest.Digest) (string, error) {
	hex, err := validate(d)
	if err != nil {
		return "", err
	}
	return relPrefix + hex, nil
}

// ParseRelPath is RelPath's inverse. inBlobs reports whether rel names
// something under blobs/sha256/ at all; when it does, err (wrapping
// errdefs.ErrInvalid) says whether the name is not a digest.
func ParseRelPath(rel string) (d digest.Digest, inBlobs bool, err error) {
	hex, ok := strings.CutPrefix(rel, relPrefix)
	if !ok {
		return "", false, nil
	}
	if !isHex(hex) {
		return "", true, fmt.Errorf("blob path %q: %w: want %s<64 lower-case hex>", rel, errdefs.ErrInvalid, relPrefix)
	}
	return digest.NewDigestFromEncoded(digest.SHA256, hex), true, nil
}

// HoldsBlobs reports whether the store folder root holds any file in
// blobs/sha256, without opening it (Open sweeps ingest/, which only the
// holder of the index lock may do).
func HoldsBlobs(root string) bool {
	entries, err := os.ReadDir(filepath.Join(root, blobsDirName, algDirName))
	return err == nil && len(entries) > 0
}

// WalkFolder calls fn for every blob file of the store folder root, in
// digest order, with its path, without opening root as a Store: nothing
// there is created, swept or changed, so root may be a copy of a store
// (made with cp -a, or a backup) or one another process uses. The bytes are
// not verified: fn copies them through Put with the digest, which does. A
// root without blobs/sha256 holds no blobs. Names that are not digests and
// entries that are not regular files are skipped, as Walk does.
//
// root may have been made by someone else: blobs/ and blobs/sha256 must be
// folders, not symlinks to elsewhere (an error wrapping errdefs.ErrInvalid
// otherwise), and fn gets only entries that were regular files when
// listed; it opens them itself with no-follow (fsutil.OpenRegular).
func WalkFolder(ctx context.Context, root string, fn func(info Info, path string) error) error {
	for _, dir := range []string{filepath.Join(root, blobsDirName), filepath.Join(root, blobsDirName, algDirName)} {
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no blobs
		}
		if err != nil {
			return fmt.Errorf("blobstore: walk: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("blobstore: walk: %s is %s, not a folder: %w", dir, fsutil.KindOf(fi.Mode()), errdefs.ErrInvalid)
		}
	}
	return walkBlobsDir(ctx, filepath.Join(root, blobsDirName, algDirName), true, fn)
}

// walkBlobsDir is the one walk over a blobs/sha256 folder, for Walk and
// WalkFolder. missingOK makes an absent folder an empty one.
func walkBlobsDir(ctx context.Context, dir string, missingOK bool, fn func(Info, string) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blobstore: walk: %w", err)
	}
	entries, err := os.ReadDir(dir) // sorted by name, which is digest order
	if missingOK && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blobstore: walk: %w", err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("blobstore: walk: %w", err)
		}
		if !isHex(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("blobstore: walk: %w", err)
		}
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if err := fn(Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// RemoveStaleIngest removes the temporary files in ingest/ last modified
// before olderThan and returns their paths; with dryRun it only lists them.
// Younger files may belong to writes in progress and stay. A file that
// cannot be removed is left out of the list, not an error: a later call
// tries again, and Open removes every leftover anyway.
func (s *Store) RemoveStaleIngest(olderThan time.Time, dryRun bool) []string {
	entries, _ := os.ReadDir(s.ingestDir)
	paths := make([]string, 0, len(entries))
	for _, e := range entries {
		paths = append(paths, filepath.Join(s.ingestDir, e.Name()))
	}
	return fsutil.RemoveStale(paths, olderThan, dryRun)
}

// Irregular is an entry under blobs/ that is not a regular file.
type Irregular struct {
	RelPath string // slash-separated, relative to the root
	Kind    string // "a symlink", "a folder", "a FIFO", ...
}

// Irregulars lists every entry under blobs/ that is not a regular file
// (blobs/ and blobs/sha256 themselves must be folders, not symlinks): such
// an entry is never a blob, and where it has a blob's name, reads of that
// blob fail with ErrNotRegular. Walk skips them; verification reports them.
func (s *Store) Irregulars(ctx context.Context) ([]Irregular, error) {
	var out []Irregular
	blobs := filepath.Join(s.root, blobsDirName)
	for _, dir := range []string{blobs, s.blobsDir} {
		fi, err := os.Lstat(dir)
		if err != nil {
			return nil, fmt.Errorf("blobstore: %w", err)
		}
		if !fi.IsDir() {
			rel, _ := filepath.Rel(s.root, dir)
			return []Irregular{{RelPath: filepath.ToSlash(rel), Kind: fsutil.KindOf(fi.Mode()) + " in place of a folder"}}, nil
		}
	}
	for _, dir := range []string{blobs, s.blobsDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("blobstore: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("blobstore: %w", err)
			}
			if e.Type().IsRegular() || (dir == blobs && e.Name() == algDirName) {
				continue
			}
			rel, _ := filepath.Rel(s.root, filepath.Join(dir, e.Name()))
			out = append(out, Irregular{RelPath: filepath.ToSlash(rel), Kind: fsutil.KindOf(e.Type())})
		}
	}
	return out, nil
}
