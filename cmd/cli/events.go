package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/events"
)

// eventsOptions are the flags of `gpmd events`.
type eventsOptions struct {
	f      *Factory
	Topics string
	Output string
	Fleet  bool
}

// NewCmdEvents is `gpmd events`.
func NewCmdEvents(f *Factory) *cobra.Command {
	o := &eventsOptions{f: f}
	cmd := &cobra.Command{
		Use:   "events [--topics nodes,modules] [--fleet] [-o table|json]",
		Short: "Follow the daemon's events: nodes that come and go, modules uploaded and removed",
		Long: `Follow the daemon's events as they happen, one line each, until Ctrl-C:
GVM nodes registered and unregistered (discoverable nodes only), module
versions uploaded and removed, and each change of a module's latest
version. Each line begins with the event's sequence number. "overflow"
means this reader fell behind and events were dropped: list the state
again (gpmd nodes, gpmd wasm list) if it matters.

--fleet adds the node events of the other devices of the daemon's fleet:
their nodes are named name@device, and -o json gives their device. A
daemon in no fleet refuses it (exit 2).

With -o json each event is one JSON object per line, as GMP's EVENT body
(docs/gmp.md, Events).

` + exitStatusHelp,
		Example: `  $ gpmd events
  following events (nodes, modules) from 41
  42 nodes registered node-1 (id a1) at 127.0.0.1:40001
  43 modules uploaded math@v1.3.0 sha256:93a44bbb… (8 B)
  44 modules latest math is now v1.3.0 sha256:93a44bbb…

  $ gpmd events --topics nodes --fleet
  following events (nodes, fleet scope) from 57
  58 nodes registered car@garage (id c1) at 10.0.0.12:40001

  $ gpmd events --topics modules -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.Topics, "topics", "nodes,modules", "topics to follow, comma-separated: nodes, modules")
	cmd.RegisterFlagCompletionFunc("topics", cobra.FixedCompletions([]string{events.TopicNodes, events.TopicModules, "nodes,modules"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&o.Fleet, "fleet", false, "also the other devices' node events (the daemon's fleet)")
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *eventsOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if _, err := events.ParseTopicList(o.Topics); err != nil {
		return usageErrorf(cmd, "--topics: %v", err)
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	out := o.f.IO.Out
	enc := json.NewEncoder(out)
	scope := ""
	if o.Fleet {
		scope = api.ScopeFleet
	}
	err = c.Events(cmd.Context(), o.Topics, scope, 0, func(m api.StreamMessage) error {
		switch {
		case m.Kind != "":
			if o.Output != formatJSON {
				what := joinTopics(m.Start.Topics)
				if m.Start.Scope == api.ScopeFleet {
					what += ", fleet scope"
				}
				fmt.Fprintf(o.f.IO.ErrOut, "following events (%s) from %d\n", what, m.Start.Seq)
			}
			return nil
		case o.Output == formatJSON:
			return enc.Encode(m.Event)
		default:
			_, err := fmt.Fprintln(out, m.Event.String())
			return err
		}
	})
	if cmd.Context().Err() != nil {
		return nil // Ctrl-C is how it ends
	}
	return err
}

func joinTopics(ts []string) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t
	}
	return s
}
