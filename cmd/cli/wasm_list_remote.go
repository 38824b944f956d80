package cli

import (
	"context"
	"fmt"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/spf13/cobra"
)

// addRemoteFlags adds --remote and --plain-http to `gpmd wasm list`.
//
// The tags are asked through the daemon, not by the CLI itself: the daemon
// holds the registry credentials (--registry-config) and the plain-HTTP
// rule that push and pull use, so list --remote sees what a pull would.
func addRemoteFlags(cmd *cobra.Command, o *listOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Remote, "remote", "", "list the semantic-version tags of REGISTRY/NAMESPACE/NAME instead of the local modules")
	fl.BoolVar(&o.PlainHTTP, "plain-http", false, "with --remote: speak plain HTTP to a registry that is not on loopback")
}

// runRemote lists the semver tags of o.Remote, highest first; other tags
// (latest, main) are left out.
func (o *listOptions) runRemote(cmd *cobra.Command) error {
	if o.Name != "" {
		return usageErrorf(cmd, "give either NAME or --remote REGISTRY/NAMESPACE/NAME, not both")
	}
	tl, err := ask(o.f, cmd, 0, func(c *client.Client, ctx context.Context) (api.TagList, error) {
		return c.RegistryTags(ctx, o.Remote, o.PlainHTTP)
	})
	if err != nil {
		return err
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, tl)
	}
	if len(tl.Tags) == 0 {
		fmt.Fprintf(o.f.IO.ErrOut, "no semantic-version tags in %s\n", tl.Repository)
		return nil
	}
	for _, t := range tl.Tags {
		fmt.Fprintln(o.f.IO.Out, t)
	}
	return nil
}
