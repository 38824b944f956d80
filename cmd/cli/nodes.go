package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/gmp"
)

// nodesOptions are the flags of `gpmd nodes`.
type nodesOptions struct {
	f      *Factory
	Output string
	Fleet  bool
}

// NewCmdNodes is `gpmd nodes`.
func NewCmdNodes(f *Factory) *cobra.Command {
	o := &nodesOptions{f: f}
	cmd := &cobra.Command{
		Use:   "nodes [--fleet] [-o table|json]",
		Short: "List the live GVM nodes registered over GMP",
		Long: `List the GVM nodes registered with the daemon over GMP right now: name,
id, address, port and since when. A node leaves the list the moment its
GMP connection ends. Nodes registered as not discoverable are listed too.

--fleet adds a DEVICE column and the discoverable nodes of the other
devices of the daemon's fleet, as the daemon knows them now.

` + exitStatusHelp,
		Example: `  $ gpmd nodes
  NAME       ID                                    ADDRESS    PORT   REGISTERED
  node-5651  df0c35f5-bea5-4a60-bbe2-aad3e4954c8c  127.0.0.1  55695  2026-11-25 04:10:00 (3m ago)

  $ gpmd nodes --fleet
  NAME       DEVICE   ID   ADDRESS    PORT
  node-5651  kitchen  df0  127.0.0.1  55695
  car        garage   c1   10.0.0.12  40001

  $ gpmd nodes -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	addFormatFlag(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.Fleet, "fleet", false, "also list the other devices' nodes, with a DEVICE column")
	return cmd
}

func (o *nodesOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	nl, err := ask(o.f, cmd, requestTimeout, (*control.Client).Nodes)
	if err != nil {
		return err
	}
	if nl.Nodes == nil {
		nl.Nodes = []gmp.NodeInfo{}
	}
	if o.Fleet {
		return o.writeFleetNodes(nl)
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, nl.Nodes)
	}
	if len(nl.Nodes) == 0 {
		fmt.Fprintf(o.f.IO.ErrOut, "no live nodes (%d GMP connections)\n", nl.Connections)
		return nil
	}
	now := o.f.Now()
	tw := tabwriter.NewWriter(o.f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tID\tADDRESS\tPORT\tREGISTERED")
	for _, n := range nl.Nodes {
		hidden := ""
		if !n.Discoverable {
			hidden = " (not discoverable)"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%d\t%s (%s ago)\n", n.Name, hidden, n.ID, n.Address, n.Port, formatTime(n.Since), formatAge(now, n.Since))
	}
	return tw.Flush()
}
