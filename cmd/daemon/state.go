package daemon

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/internal/fsutil"
)

// State is what a running daemon records in <data>/gpmd.state.json for the
// CLI: how to reach it, with any port 0 resolved to the real port.
type State struct {
	// Info is what the control API also reports (GET /v1/status): pid,
	// version, start time, the real addresses, the data folder.
	control.Info
	// TokenFile is the token file the daemon requires, if any: a client
	// of this data folder sends its token without being told.
	TokenFile string `json:"token_file,omitempty"`
	LogFile   string `json:"log_file"`
}

// ReadState reads the state file of data folder dir. The file may be left
// over from a daemon that was killed: Probe tells. A state file that
// another user could have written (readTrusted) is refused with
// *UntrustedError: the CLI connects where it says and sends the token file
// it names.
func ReadState(dir string) (State, error) {
	var st State
	data, err := readTrusted(filepath.Join(dir, StateFile), false)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("state file %s: %w", filepath.Join(dir, StateFile), err)
	}
	return st, nil
}

// writeState writes the pid and state files, each atomically and durably
// (fsutil: temp file, fsync, rename, fsync of the folder), so a reader sees
// the old file or the new one, never half of one, even after a power cut.
func writeState(dir string, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomicBytes(filepath.Join(dir, StateFile), append(data, '\n'), fsutil.FileMode); err != nil {
		return err
	}
	return fsutil.WriteFileAtomicBytes(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(st.PID)+"\n"), fsutil.FileMode)
}

// removeState removes the pid and state files of a daemon that stops.
func removeState(dir string) error {
	e1 := os.Remove(filepath.Join(dir, StateFile))
	e2 := os.Remove(filepath.Join(dir, PIDFile))
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
