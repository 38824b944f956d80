package cli

import (
	"fmt"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/spf13/cobra"
)

// pullOptions are the arguments and flags of `gpmd wasm pull`.
type pullOptions struct {
	f         *Factory
	Source    string
	Name      string
	Version   string
	PlainHTTP bool
}

// NewCmdWasmPull is `gpmd wasm pull`.
func NewCmdWasmPull(f *Factory) *cobra.Command {
	o := &pullOptions{f: f}
	cmd := &cobra.Command{
		Use:   "pull REGISTRY/REPOSITORY(:TAG|@DIGEST) [--name N] [--version V]",
		Short: "Pull a module from an OCI registry into the store",
		Long: `Pull a Wasm artifact from an OCI registry into the daemon's store, as an
upload would store it. Any artifact whose manifest has a single
application/wasm layer is taken (as gpmd, oras and wkg push them); a
container image, a Spin app or an artifact of several layers is refused,
saying what it is. The manifest, config and layer are checked against
their digests; nothing that fails a check is stored.

The name defaults to the repository's last path segment and the version
to the tag, which must then be a semantic version; a pull by @DIGEST
needs --version. The daemon does the pull, with its registry credentials
(see gpmd start --registry-config). Loopback registries are spoken to
over plain HTTP; any other over HTTPS unless --plain-http is given. A
terminal shows the bytes received.

` + exitStatusHelp + `
  (6 also when the registry refuses the daemon's credentials)`,
		Example: `  $ gpmd wasm pull registry.example.com/fleet/math:v1.2.0
  pulled registry.example.com/fleet/math:v1.2.0
  math@v1.2.0 sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476

  $ gpmd wasm pull ghcr.io/acme/filters@sha256:5f3c… --name filters --version 0.3.0`,
		Args: exactlyOneArg("REGISTRY/REPOSITORY(:TAG|@DIGEST)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Source = args[0]
			return o.run(cmd)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "store under this module name (default: the repository's last segment)")
	fl.StringVar(&o.Version, "version", "", "store as this version (default: the tag)")
	fl.BoolVar(&o.PlainHTTP, "plain-http", false, "speak plain HTTP to a registry that is not on loopback")
	cmd.RegisterFlagCompletionFunc("name", f.completeModuleNames)
	cmd.RegisterFlagCompletionFunc("version", cobra.NoFileCompletions)
	return cmd
}

func (o *pullOptions) run(cmd *cobra.Command) error {
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	bar := o.f.transferBar("pulling " + o.Source)
	res, err := c.RegistryPull(cmd.Context(), api.PullRequest{Source: o.Source, Name: o.Name, Version: o.Version, PlainHTTP: o.PlainHTTP}, bar.callback())
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.Out, "pulled %s\n", res.Reference)
	fmt.Fprintf(o.f.IO.Out, "%s@%s %s\n", res.Module.Name, res.Module.Version, res.Module.Digest)
	return nil
}
