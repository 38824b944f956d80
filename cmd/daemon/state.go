package daemon

import (
	"encoding/json"
	"errors"
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

// removeState removes the pid and state files of the daemon with process
// id pid, as it stops. Files that name another process are left alone: if
// the data folder was removed and made again under this daemon, they may
// be a newer daemon's, and removing them would hide that daemon from its
// clients. Files that name no process it can read are this daemon's to
// clean up.
func removeState(dir string, pid int) error {
	if owner := conf.FilesOwner(dir); owner != 0 && owner != pid {
		return nil
	}
	var errs []error
	for _, name := range []string{conf.StateFile, conf.PIDFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
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
