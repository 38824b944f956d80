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
