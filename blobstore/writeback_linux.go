package blobstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing f's bytes [off, off+n)
// to the device now, without waiting for it (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE): the device works while the writer reads and
// hashes the next chunk, and the fsync at Commit waits only for what is
// left. It is a hint, not a durability step: Commit's fsync stays the
// one that makes the bytes durable, so an error here changes nothing and
// is ignored.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
