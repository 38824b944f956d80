package cli

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/internal/units"
)

// verifyOptions are the flags of `gpmd verify`.
type verifyOptions struct {
	f      *Factory
	Output string
	Deep   bool
}

// NewCmdVerify is `gpmd verify`.
func NewCmdVerify(f *Factory) *cobra.Command {
	o := &verifyOptions{f: f}
	cmd := &cobra.Command{
		Use:   "verify [--deep] [-o table|json]",
		Short: "Check every stored module against its digest",
		Long: `Ask the running daemon to re-hash every blob, check that every version
in the index has its blob, and that ghost.modules.json says what the index
says, and that every version's bytes are a well-formed WebAssembly
binary (versions stored before uploads were parsed may not be). Each
problem is printed by kind (corrupt, missing, stale_mirror, index,
invalid_module), name@version and digest.

--deep also validates every module in full with wazero (instructions
included; seconds for a large module). A module that needs a feature the
validator lacks is listed as not checked, which is not a problem.

Blobs that no version names (a crash between writing a blob and indexing
it may leave one) are listed as garbage for gpmd gc: they are not
problems and alone leave the exit status 0.

It runs while the daemon serves: uploads and fetches go on meanwhile. It
reads every stored byte, so it takes as long as that takes.

` + exitStatusHelp,
		Example: `  $ gpmd verify
  Verified 3 versions in 3 blobs (1.2 MiB hashed): no problems
  $ gpmd verify --deep
  $ gpmd verify -o json | jq '.problems[] | .name + "@" + .version'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	addFormatFlag(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.Deep, "deep", false, "also validate every module in full with wazero")
	return cmd
}

func (o *verifyOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	call := (*client.Client).Verify
	if o.Deep {
		call = (*client.Client).VerifyDeep
	}
	rep, err := ask(o.f, cmd, 0, call)
	if err != nil {
		return err
	}
	if o.Output == formatJSON {
		if err := writeJSON(o.f.IO.Out, rep); err != nil {
			return err
		}
	} else if err := printVerify(o.f.IO.Out, rep); err != nil {
		return err
	}
	if !rep.OK() {
		return problemsf("verify found %s in the store (listed above)", plural(len(rep.Problems), "problem"))
	}
	return nil
}

// printVerify prints a verify report as text.
func printVerify(w io.Writer, rep api.VerifyReport) error {
	status := "no problems"
	if !rep.OK() {
		status = plural(len(rep.Problems), "problem")
	}
	fmt.Fprintf(w, "Verified %s in %s (%s hashed): %s\n", plural(rep.Versions, "version"), plural(rep.Blobs, "blob"), units.FormatBytes(rep.BytesHashed), status)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, p := range rep.Problems {
		ref := "-"
		if p.Name != "" {
			ref = p.Name + "@" + p.Version
		}
		d := string(p.Digest)
		if d == "" {
			d = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", p.Kind, ref, d, oneLine(fmt.Errorf("%s", p.Message)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range rep.Unsupported {
		fmt.Fprintf(w, "Not checked: %s\n", oneLine(fmt.Errorf("%s", p.Message)))
	}
	if len(rep.Garbage) > 0 {
		fmt.Fprintf(w, "Garbage for gpmd gc: %s (%s) that no version names\n", plural(len(rep.Garbage), "blob"), units.FormatBytes(rep.GarbageBytes))
		for _, b := range rep.Garbage {
			fmt.Fprintf(w, "  %s  %s\n", b.Digest, units.FormatBytes(b.Size))
		}
	}
	return nil
}

// plural is "1 blob", "2 blobs".
func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
