//go:build !linux

package blobstore

import "os"

// startWriteback is a no-op where sync_file_range(2) does not exist: the
// fsync at Commit writes everything, as it always must.
func startWriteback(f *os.File, off, n int64) {}
