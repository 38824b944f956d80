package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/internal/units"
)

// gcOptions are the flags of `gpmd gc`.
type gcOptions struct {
	f      *Factory
	DryRun bool
	Output string
}

// NewCmdGC is `gpmd gc`.
func NewCmdGC(f *Factory) *cobra.Command {
	o := &gcOptions{f: f}
	cmd := &cobra.Command{
		Use:   "gc [--dry-run] [-o table|json]",
		Short: "Remove blobs that no version names, and leftovers",
		Long: `Ask the running daemon to remove the blobs that no version names (garbage
that gpmd verify lists) and temporary files left by interrupted uploads
that are older than an hour.

It is safe while uploads run: a blob whose upload is in flight, or
finished and not yet indexed, is held by a lease and never removed. A
blob that two versions share stays while either names it.

--dry-run lists what would go and removes nothing.

` + exitStatusHelp,
		Example: `  $ gpmd gc --dry-run
  $ gpmd gc
  Removed 1 blob (12 B)
    sha256:…  12 B`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be removed; remove nothing")
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *gcOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	rep, err := ask(o.f, cmd, 0, func(c *client.Client, ctx context.Context) (api.GCReport, error) {
		return c.GC(ctx, o.DryRun)
	})
	if err != nil {
		return err
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, rep)
	}
	w := o.f.IO.Out
	verb := "Removed"
	if rep.DryRun {
		verb = "Would remove"
	}
	if len(rep.Removed) == 0 && len(rep.Leftovers) == 0 {
		fmt.Fprintln(w, "Nothing to remove.")
		return nil
	}
	fmt.Fprintf(w, "%s %s (%s)\n", verb, plural(len(rep.Removed), "blob"), units.FormatBytes(rep.Bytes))
	for _, b := range rep.Removed {
		fmt.Fprintf(w, "  %s  %s\n", b.Digest, units.FormatBytes(b.Size))
	}
	if len(rep.Leftovers) > 0 {
		fmt.Fprintf(w, "%s %s\n", verb, plural(len(rep.Leftovers), "leftover"))
		for _, l := range rep.Leftovers {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return nil
}
