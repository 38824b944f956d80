package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// nodesOptions are the flags of `gpmd nodes`.
type nodesOptions struct {
	f      *Factory
	Output string
	Fleet  bool
	Watch  bool
}

// NewCmdNodes is `gpmd nodes`.
func NewCmdNodes(f *Factory) *cobra.Command {
	o := &nodesOptions{f: f}
	cmd := &cobra.Command{
		Use:   "nodes [--fleet] [-o table|json] [--watch]",
		Short: "List the live GVM nodes registered over GMP",
		Long: `List the GVM nodes registered with the daemon over GMP right now: name,
id, address, port and since when. A node leaves the list the moment its
GMP connection ends. Nodes registered as not discoverable are listed too.

--fleet adds a DEVICE column and the discoverable nodes of the other
devices of the daemon's fleet, as the daemon knows them now.

With --watch the command follows the daemon's node events until Ctrl-C:
on a terminal it redraws the table on each change; otherwise it prints the
whole list again (a table, or one JSON array per line with -o json) each
time it changes. With --fleet it follows the other devices' node events
too (the fleet scope of the daemon's events), so a node that comes or goes
on another device redraws it. Nodes that are not discoverable cause no
events: the list shows them as of the last change of a discoverable node.

` + exitStatusHelp,
		Example: `  $ gpmd nodes
  NAME       ID                                    ADDRESS    PORT   REGISTERED
  node-5651  df0c35f5-bea5-4a60-bbe2-aad3e4954c8c  127.0.0.1  55695  2026-11-25 04:10:00 (3m ago)

  $ gpmd nodes --fleet
  NAME       DEVICE   ID   ADDRESS    PORT
  node-5651  kitchen  df0  127.0.0.1  55695
  car        garage   c1   10.0.0.12  40001

  $ gpmd nodes -o json
  $ gpmd nodes --watch`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	addFormatFlag(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.Fleet, "fleet", false, "also list the other devices' nodes, with a DEVICE column")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "keep the list current until Ctrl-C")
	return cmd
}

func (o *nodesOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if o.Watch {
		return o.watch(cmd)
	}
	nl, err := ask(o.f, cmd, requestTimeout, (*client.Client).Nodes)
	if err != nil {
		return err
	}
	return o.print(nl)
}

// print writes the list once.
func (o *nodesOptions) print(nl api.NodeList) error {
	if nl.Nodes == nil {
		nl.Nodes = []wire.NodeInfo{}
	}
	if o.Fleet {
		return o.writeFleetNodes(nl)
	}
	if o.Output == formatJSON {
		if o.Watch {
			// One object per line: a stream a program can read.
			return json.NewEncoder(o.f.IO.Out).Encode(nl)
		}
		return writeJSON(o.f.IO.Out, nl)
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

// watch prints the list, then again after each node event, until Ctrl-C.
// The list is read from GET /v1/nodes after the stream has started, so
// no change between the two is lost: a change after it comes as an event
// and redraws.
func (o *nodesOptions) watch(cmd *cobra.Command) error {
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	tty := o.f.IO.IsStdoutTTY() && o.Output != formatJSON
	scope := ""
	if o.Fleet {
		// The fleet scope only from a daemon in a fleet; one in none
		// lists its own nodes, as `nodes --fleet` does.
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		nl, err := c.Nodes(rctx)
		cancel()
		if err != nil {
			return err
		}
		if nl.Device != "" {
			scope = api.ScopeFleet
		}
	}
	redraw := func() error {
		rctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		nl, err := c.Nodes(rctx)
		if err != nil {
			return err
		}
		if tty {
			fmt.Fprint(o.f.IO.Out, "\x1b[H\x1b[2J") // home, clear screen
		} else if o.Output != formatJSON {
			fmt.Fprintf(o.f.IO.Out, "-- %s\n", formatTime(o.f.Now()))
		}
		return o.print(nl)
	}
	err = c.Events(ctx, events.TopicNodes, scope, 0, func(m api.StreamMessage) error {
		if m.Kind == "" && m.Event.Topic != events.TopicNodes {
			return nil
		}
		return redraw()
	})
	if ctx.Err() != nil {
		return nil // Ctrl-C is how it ends
	}
	return err
}
