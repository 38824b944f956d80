package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/internal/units"
)

// listOptions are the flags of `gpmd wasm list`.
type listOptions struct {
	f      *Factory
	Name   string
	Output string
	// Remote and PlainHTTP: see wasm_list_remote.go.
	Remote    string
	PlainHTTP bool
}

// NewCmdWasmList is `gpmd wasm list`.
func NewCmdWasmList(f *Factory) *cobra.Command {
	o := &listOptions{f: f}
	cmd := &cobra.Command{
		Use:   "list [NAME] [-o table|json]",
		Short: "List modules and their versions",
		Long: `List every module, or the versions of module NAME: name, version, the
start of the sha256 digest, size and when it was added. Names are sorted,
and each name's versions go from highest to lowest.

A NAME with no versions is an error (exit 4). With -o json the output is
an array of {"name", "versions": [{"name", "version", "digest", "size",
"created", "kind", "imports", "exports"}]} with the full digests; kind is
"module" or "component", imports and exports are counts (gpmd wasm
inspect lists them). A version stored before uploads were parsed whose
bytes are not a valid module has "invalid_module" (the reason) instead of
a kind.

` + exitStatusHelp,
		Example: `  $ gpmd wasm list
  NAME  VERSION  DIGEST               SIZE  ADDED
  math  v0.0.2   sha256:5f3c0e0a4b1d  812 B 2026-11-25 04:12:31
  math  v0.0.1   sha256:93a44bbb96c7  8 B   2026-11-25 04:10:02

  $ gpmd wasm list math -o json`,
		Args:              maxOneArg,
		ValidArgsFunction: f.completeModuleNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			return o.run(cmd)
		},
	}
	addFormatFlag(cmd, &o.Output)
	addRemoteFlags(cmd, o)
	return cmd
}

func (o *listOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if o.Remote != "" {
		return o.runRemote(cmd)
	}
	mods, err := ask(o.f, cmd, requestTimeout, func(c *client.Client, ctx context.Context) ([]api.ListedModule, error) {
		return c.List(ctx, o.Name)
	})
	if err != nil {
		return err
	}
	if mods == nil {
		mods = []api.ListedModule{}
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, api.ModuleList{Modules: mods})
	}
	if len(mods) == 0 {
		fmt.Fprintln(o.f.IO.ErrOut, "no modules yet (upload one with: gpmd wasm upload --name NAME --version VERSION --file FILE)")
		return nil
	}
	tw := tabwriter.NewWriter(o.f.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tDIGEST\tSIZE\tADDED")
	for _, m := range mods {
		for _, v := range m.Versions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.Name, v.Version, shortDigest(v.Digest), units.FormatBytes(v.Size), formatTime(v.Created))
		}
	}
	return tw.Flush()
}

// maxOneArg allows zero or one argument.
func maxOneArg(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageErrorf(cmd, "%s takes at most one argument, got %d", cmd.CommandPath(), len(args))
	}
	return nil
}

// exactlyOneArg requires one argument, named what in the message.
func exactlyOneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf(cmd, "%s takes one argument, %s; got %d", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
