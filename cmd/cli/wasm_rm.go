package cli

import (
	"context"
	"fmt"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/spf13/cobra"
)

// rmOptions are the flags of `gpmd wasm rm`.
type rmOptions struct {
	f      *Factory
	Ref    string
	Forget bool
}

// NewCmdWasmRm is `gpmd wasm rm`.
func NewCmdWasmRm(f *Factory) *cobra.Command {
	o := &rmOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rm NAME@VERSION",
		Short: "Remove one version of a module",
		Long: `Remove version VERSION of module NAME. The version must be exact (v1.2.0
and 1.2.0 are the same version); no constraint, no "latest". Its bytes go
too unless another version has the same bytes.

A version never changes its bytes: gpmd keeps a tombstone of the removed
version (its digest), so it can be uploaded again only with the same bytes;
other bytes are refused (exit status 5). --forget drops the tombstone too.
That breaks the rule on purpose: nodes that fetched the old bytes may then
run a different module under the same version.

` + exitStatusHelp,
		Example: `  $ gpmd wasm rm math@v0.0.1
  Removed math@v0.0.1 sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476
  $ gpmd wasm rm --forget math@v0.0.1`,
		Args:              exactlyOneArg("NAME@VERSION"),
		ValidArgsFunction: f.completeModuleRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return o.run(cmd)
		},
	}
	cmd.Flags().BoolVar(&o.Forget, "forget", false, "also drop the tombstone, so the version may come back with other bytes (breaks immutability)")
	return cmd
}

func (o *rmOptions) run(cmd *cobra.Command) error {
	name, version, ok := parseRef(o.Ref)
	if name == "" || !ok || version == "" {
		return usageErrorf(cmd, "give the exact version to remove: NAME@VERSION, not %q", o.Ref)
	}
	rec, err := ask(o.f, cmd, requestTimeout, func(c *client.Client, ctx context.Context) (api.Record, error) {
		return c.RemoveWith(ctx, name, version, o.Forget)
	})
	if err != nil {
		return err
	}
	if rec.Name == "" {
		// --forget of a version that only had a tombstone.
		fmt.Fprintf(o.f.IO.Out, "Forgot %s@%s\n", name, version)
		return nil
	}
	fmt.Fprintf(o.f.IO.Out, "Removed %s@%s %s\n", rec.Name, rec.Version, rec.Digest)
	return nil
}
