package cli

import (
	"context"
	"fmt"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/spf13/cobra"
)

// checkOptions are the flags of `gpmd wasm check`.
type checkOptions struct {
	f      *Factory
	Ref    string
	Output string
}

// NewCmdWasmCheck is `gpmd wasm check`.
func NewCmdWasmCheck(f *Factory) *cobra.Command {
	o := &checkOptions{f: f}
	cmd := &cobra.Command{
		Use:   "check NAME[@VERSION|@CONSTRAINT] [-o table|json]",
		Short: "Validate a stored module in full (wazero)",
		Long: `Validate a stored module version in full: the daemon compiles it with
wazero (instructions included; nothing runs). An upload checks only the
structure; this is the deeper check, which takes seconds for a large
module. VERSION and CONSTRAINT are as for gpmd wasm get (default: the
latest).

A valid module exits 0; an invalid one prints what wazero says and exits 7.
A module that needs a feature the validator lacks (a component, multiple
memories, memory64) is not known to be broken: the command says "needs
feature X, which the validator does not support" and exits 1.

` + exitStatusHelp,
		Example: `  $ gpmd wasm check math@v0.0.1
  math@v0.0.1 sha256:93a44bbb96c7…: valid
  $ gpmd wasm check 'math@^1' -o json`,
		Args:              exactlyOneArg("NAME[@VERSION]"),
		ValidArgsFunction: f.completeModuleRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return o.run(cmd)
		},
	}
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *checkOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	name, query, err := refArg(cmd, o.Ref)
	if err != nil {
		return err
	}
	// No timeout: compiling a large module takes as long as it takes;
	// Ctrl-C stops it.
	res, err := ask(o.f, cmd, 0, func(c *client.Client, ctx context.Context) (api.CheckResult, error) {
		return c.Check(ctx, name, query)
	})
	if err != nil {
		return err
	}
	ref := res.Name + "@" + res.Version
	if o.Output == formatJSON {
		if err := writeJSON(o.f.IO.Out, res); err != nil {
			return err
		}
	} else if res.Valid {
		fmt.Fprintf(o.f.IO.Out, "%s %s: valid\n", ref, res.Digest)
	} else if res.Problem != "" {
		fmt.Fprintf(o.f.IO.Out, "%s %s: invalid_module: %s\n", ref, res.Digest, oneLine(fmt.Errorf("%s", res.Problem)))
	}
	switch {
	case res.Unsupported != "":
		return fmt.Errorf("%s not checked: %s", ref, res.Unsupported)
	case !res.Valid:
		return problemsf("%s is not a valid module", ref)
	}
	return nil
}
