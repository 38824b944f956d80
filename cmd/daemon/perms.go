package daemon

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
)

// tightenDataDir removes every permission of the group and of others from
// the data folder and everything in it (folders become 0700, files 0600,
// blobs 0400: fsutil's modes; a blob loses its owner's write permission
// too), for a folder an older gpmd made with
// looser modes. It never adds a permission, never follows a symbolic
// link, and logs one line when it changed anything. A file it cannot
// change is logged and left: the daemon still starts.
func tightenDataDir(dir string, log *slog.Logger) {
	var changed int
	var first string
	modules := filepath.Join(dir, conf.ModulesDir)
	filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			log.Warn("checking permissions in the data folder", "path", path, "err", err)
			return nil
		}
		if de.Type()&fs.ModeSymlink != 0 || (!de.IsDir() && !de.Type().IsRegular()) {
			return nil
		}
		fi, err := de.Info()
		if err != nil {
			return nil // gone since the folder was read
		}
		mode := fi.Mode().Perm()
		clear := fs.FileMode(0o077)
		if isBlob(modules, path, de) {
			clear = 0o277 // and read-only for the owner too
		}
		if mode&clear == 0 {
			return nil
		}
		if err := os.Chmod(path, mode&^clear); err != nil {
			log.Warn("tightening permissions in the data folder", "path", path, "err", err)
			return nil
		}
		if changed == 0 {
			first = path
		}
		changed++
		return nil
	})
	if changed > 0 {
		log.Info("tightened permissions in the data folder: nothing in it is for other users", "data_dir", dir, "changed", changed, "first", first)
	}
}

// isBlob reports whether path is a committed blob of the store in modules:
// blobstore owns that layout, so it is asked.
func isBlob(modules, path string, de fs.DirEntry) bool {
	rel, err := filepath.Rel(modules, path)
	if err != nil || !de.Type().IsRegular() {
		return false
	}
	_, inBlobs, err := blobstore.ParseRelPath(filepath.ToSlash(rel))
	return inBlobs && err == nil
}
