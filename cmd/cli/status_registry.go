package cli

import (
	"fmt"
	"io"

	"github.com/ghost-network/gpmd/cmd/control/api"
)

// printRegistryStatus adds the upstream's lines to `gpmd status`.
func printRegistryStatus(w io.Writer, rs *api.RegistryStatus) {
	if rs == nil {
		return
	}
	fmt.Fprintf(w, "  registry:\t%s\n", rs.Registry)
	if !rs.LastSuccess.IsZero() {
		fmt.Fprintf(w, "  last success:\t%s\n", formatTime(rs.LastSuccess))
	}
	if rs.LastError != "" {
		fmt.Fprintf(w, "  last error:\t%s: %s\n", formatTime(rs.LastErrorAt), rs.LastError)
	}
}
