package blobstore

import (
	"io/fs"
	"os"

	"github.com/ghost-network/gpmd/internal/fsutil"
)

// fileOps holds the file system calls of the commit sequence, so that tests
// can make any one of them fail (a full disk, a failing fsync or rename) and
// check that nothing is left behind. The store only ever uses the real calls
// from osFileOps; there is no way to set these from outside the package.
type fileOps struct {
	createTemp func(dir, pattern string) (*os.File, error)
	write      func(f *os.File, p []byte) (int, error)
	chmod      func(f *os.File, mode fs.FileMode) error
	sync       func(f *os.File) error
	rename     func(oldpath, newpath string) error
	syncDir    func(dir string) error
}

func osFileOps() fileOps {
	return fileOps{
		createTemp: os.CreateTemp,
		write:      (*os.File).Write,
		chmod:      (*os.File).Chmod,
		sync:       (*os.File).Sync,
		rename:     os.Rename,
		syncDir:    fsutil.SyncDir,
	}
}
