package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// importOptions are the flags of `gpmd import`.
type importOptions struct {
	f      *Factory
	From   string
	Output string
}

// NewCmdImport is `gpmd import`.
func NewCmdImport(f *Factory) *cobra.Command {
	o := &importOptions{f: f}
	cmd := &cobra.Command{
		Use:   "import --from DIR",
		Short: "Import a store written by the early gpmd, through the daemon",
		Long: `Import the modules of a store written by the early gpmd: DIR is its
.ghost-network/modules folder, holding ghost.modules.json and
<name>-<version>.wasm files (DIR may also be the .ghost-network folder
above it). This command reads the files and uploads each version to the
running daemon, which refuses bytes that do not hash to the digest
ghost.modules.json lists for them.

It prints each version imported and each one refused, with the reason (a
hash that does not match, a missing file, a bad name or version, bytes
that are not WebAssembly, a version stored already with other bytes).
Importing again is harmless. Anything refused: exit status 7. The early
store is not changed.

` + exitStatusHelp,
		Example: `  $ gpmd import --from ~/old/.ghost-network/modules
  Imported math@v0.0.1 sha256:…
  Refused  calc@v1.0.0: …
  Imported 1 version; refused 1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.From, "from", "", "the early store's folder (holding ghost.modules.json)")
	cmd.MarkFlagDirname("from")
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *importOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if o.From == "" {
		return usageErrorf(cmd, "give the early store to import: --from DIR")
	}
	from, err := absPath(o.From)
	if err != nil {
		return inputErrorf("%v", err)
	}
	eng, err := o.f.Engine()
	if err != nil {
		return err
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := eng.Import(cmd.Context(), c, from)
	if err != nil {
		return err
	}
	var fail error
	if len(rep.Refused) > 0 {
		fail = problemsf("import from %s: %s refused (listed above)", rep.From, plural(len(rep.Refused), "version"))
	}
	if o.Output == formatJSON {
		if err := writeJSON(o.f.IO.Out, rep); err != nil {
			return err
		}
		return fail
	}
	w := o.f.IO.Out
	for _, r := range rep.Imported {
		fmt.Fprintf(w, "Imported %s@%s %s\n", r.Name, r.Version, r.Digest)
	}
	for _, r := range rep.Refused {
		fmt.Fprintf(w, "Refused  %s@%s: %s\n", r.Name, r.Version, oneLine(fmt.Errorf("%s", r.Reason)))
	}
	fmt.Fprintf(w, "Imported %s; refused %d\n", plural(len(rep.Imported), "version"), len(rep.Refused))
	return fail
}
