package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/spf13/cobra"
)

// statusOptions are the flags of `gpmd status`.
type statusOptions struct {
	f      *Factory
	Output string
}

// requestTimeout bounds the short control requests (status, list, nodes,
// rm); uploads and downloads have none, they take what their size takes.
const requestTimeout = 30 * time.Second

// NewCmdStatus is `gpmd status`.
func NewCmdStatus(f *Factory) *cobra.Command {
	o := &statusOptions{f: f}
	cmd := &cobra.Command{
		Use:   "status [-o table|json]",
		Short: "Show whether the daemon runs, and what it holds",
		Long: `Show whether the daemon runs and, if it does: its pid, version, uptime,
control and GMP addresses, data folder, how many modules and versions it
holds, the bytes of their blobs, the live GVM nodes, and the fleet: its
NATS server, this device's name, connected or not since when, the other
devices seen and the last error.

Not running: it says so and exits 3 (with -o json it prints
{"running": false, ...} too).

` + exitStatusHelp,
		Example: `  $ gpmd status
  $ gpmd status -o json | jq .versions`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *statusOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		if errors.Is(err, api.ErrNotRunning) && o.Output == formatJSON {
			dir, _ := o.f.DataDir()
			down := statusDown{Running: false, DataDir: dir}
			if c.Socket() {
				down.ControlSocket = c.Addr()
			} else {
				down.ControlAddr = c.Addr()
			}
			writeJSON(o.f.IO.Out, down)
		}
		return err
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, st)
	}
	tw := tabwriter.NewWriter(o.f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "gpmd is running\n")
	fmt.Fprintf(tw, "  pid:\t%d\n", st.PID)
	fmt.Fprintf(tw, "  version:\t%s\n", st.Version)
	fmt.Fprintf(tw, "  uptime:\t%s (since %s)\n", (time.Duration(st.UptimeSeconds) * time.Second).String(), formatTime(st.Started))
	fmt.Fprintf(tw, "  control:\t%s\n", st.ControlAddr)
	if st.ControlSocket != "" {
		fmt.Fprintf(tw, "  socket:\t%s\n", st.ControlSocket)
	}
	fmt.Fprintf(tw, "  gmp:\t%s\n", st.GMPAddr)
	if !conf.IsLoopback(st.GMPAddr) {
		fmt.Fprintf(tw, "  warning:\tGMP listens off loopback and has no authentication: any host that reaches %s can register nodes and fetch modules\n", st.GMPAddr)
	}
	fmt.Fprintf(tw, "  data folder:\t%s\n", st.DataDir)
	fmt.Fprintf(tw, "  modules:\t%d (%s)\n", st.Modules, countNoun(st.Versions, "version"))
	fmt.Fprintf(tw, "  blobs:\t%d (%s)\n", st.Blobs, units.FormatBytes(st.BlobBytes))
	fmt.Fprintf(tw, "  live nodes:\t%d (%s)\n", st.Nodes, countNoun(st.GMPConnections, "GMP connection"))
	writeFleetStatus(tw, st.Fleet, o.f.Now())
	printRegistryStatus(tw, st.Registry)
	return tw.Flush()
}

// statusDown is what status -o json prints when nothing answers: the
// running field and the names of api.Status, for the where it looked.
type statusDown struct {
	Running       bool   `json:"running"`
	ControlAddr   string `json:"control_addr,omitempty"`
	ControlSocket string `json:"control_socket,omitempty"`
	DataDir       string `json:"data_dir"`
}

// countNoun is "1 version", "3 versions".
func countNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
