package conf

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/ghost-network/gpmd/cmd/control/api"
)

// State is what a running daemon records in <data>/gpmd.state.json for the
// CLI: how to reach it, with any port 0 resolved to the real port.
type State struct {
	// Info is what the control API also reports (GET /v1/status): pid,
	// version, start time, the real addresses, the data folder.
	api.Info
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

// FilesOwner is the process id that the state file of data folder dir
// names, else the one its pid file names (the daemon writes both
// together); 0 when neither can be read. Both are read as ReadState reads:
// regular files, bounded, never blocking. A stopping daemon removes the
// files only when they name it.
func FilesOwner(dir string) int {
	if st, err := ReadState(dir); err == nil && st.PID > 0 {
		return st.PID
	}
	data, err := readTrusted(filepath.Join(dir, PIDFile), false)
	if err != nil {
		return 0
	}
	return parsePID(data)
}
