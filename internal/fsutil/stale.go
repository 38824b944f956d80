package fsutil

import (
	"os"
	"time"
)

// RemoveStale removes those of paths that are files last modified before
// olderThan (younger ones may belong to a write in progress) and returns
// them; with dryRun it only lists them. A file that cannot be removed, or
// is gone already, is left out of the list: a later sweep tries again.
// It is how the temporary files WriteFileAtomic (or the blob store's
// ingest) leaves after a crash are swept.
func RemoveStale(paths []string, olderThan time.Time, dryRun bool) []string {
	var removed []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.ModTime().After(olderThan) {
			continue
		}
		if !dryRun {
			if err := os.Remove(p); err != nil {
				continue
			}
		}
		removed = append(removed, p)
	}
	return removed
}
