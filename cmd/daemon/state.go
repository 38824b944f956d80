package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/fsutil"
)

// writeState writes the pid and state files, each atomically and durably
// (fsutil: temp file, fsync, rename, fsync of the folder), so a reader sees
// the old file or the new one, never half of one, even after a power cut.
func writeState(dir string, st conf.State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomicBytes(filepath.Join(dir, conf.StateFile), append(data, '\n'), fsutil.FileMode); err != nil {
		return err
	}
	return fsutil.WriteFileAtomicBytes(filepath.Join(dir, conf.PIDFile), []byte(strconv.Itoa(st.PID)+"\n"), fsutil.FileMode)
}

// removeState removes the pid and state files of a daemon that stops.
func removeState(dir string) error {
	e1 := os.Remove(filepath.Join(dir, conf.StateFile))
	e2 := os.Remove(filepath.Join(dir, conf.PIDFile))
	for _, err := range []error{e1, e2} {
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// checkWritable proves that dir takes a new file, a rename and a removal:
// what the repository and the state files need.
func checkWritable(dir string) error {
	probe := filepath.Join(dir, ".gpmd-write-check")
	if err := fsutil.WriteFileAtomicBytes(probe, []byte("ok\n"), 0o600); err != nil {
		return fmt.Errorf("data folder %s is not writable: %w", dir, err)
	}
	if err := os.Remove(probe); err != nil {
		return fmt.Errorf("data folder %s: %w", dir, err)
	}
	return nil
}
