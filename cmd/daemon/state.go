package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

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
// id pid, as it stops. A file that names another process is left alone:
// if the data folder was removed and made again under this daemon, the
// files may be a newer daemon's, and removing them would hide that daemon
// from its clients.
func removeState(dir string, pid int) error {
	var errs []error
	for _, f := range []struct {
		name string
		pid  func(data []byte) (int, bool)
	}{
		{conf.StateFile, statePID},
		{conf.PIDFile, func(data []byte) (int, bool) {
			n, err := strconv.Atoi(strings.TrimSpace(string(data)))
			return n, err == nil
		}},
	} {
		path := filepath.Join(dir, f.name)
		data, err := os.ReadFile(path)
		if err != nil {
			if !os.IsNotExist(err) {
				errs = append(errs, err)
			}
			continue
		}
		if owner, ok := f.pid(data); ok && owner != pid {
			continue
		}
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// statePID is the process id a state file names (false when it names
// none it can read).
func statePID(data []byte) (int, bool) {
	var st conf.State
	if json.Unmarshal(data, &st) != nil || st.PID <= 0 {
		return 0, false
	}
	return st.PID, true
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
