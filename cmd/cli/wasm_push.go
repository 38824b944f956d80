package cli

import (
	"fmt"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/spf13/cobra"
)

// pushOptions are the arguments and flags of `gpmd wasm push`.
type pushOptions struct {
	f         *Factory
	Ref       string // NAME@VERSION
	Target    string // REGISTRY/REPOSITORY[:TAG]
	PlainHTTP bool
}

// NewCmdWasmPush is `gpmd wasm push`.
func NewCmdWasmPush(f *Factory) *cobra.Command {
	o := &pushOptions{f: f}
	cmd := &cobra.Command{
		Use:   "push NAME@VERSION REGISTRY/REPOSITORY[:TAG]",
		Short: "Push a stored module version to an OCI registry",
		Long: `Push the stored version NAME@VERSION to an OCI registry, as a Wasm
artifact that oras, wkg, wasmCloud and the containerd Wasm shims pull: one
OCI image manifest whose config is application/vnd.wasm.config.v0+json and
whose only layer is the module (application/wasm).

The daemon does the push, with its registry credentials (the docker/oras
credential store: see gpmd start --registry-config). The tag defaults to
the version; a version with +build metadata needs an explicit :TAG, as
OCI tags cannot hold '+'. Loopback registries are spoken to over plain
HTTP; any other over HTTPS unless --plain-http is given. A terminal shows
the bytes sent.

` + exitStatusHelp + `
  (6 also when the registry refuses the daemon's credentials)`,
		Example: `  $ gpmd wasm push math@v1.2.0 registry.example.com/fleet/math
  pushed math@v1.2.0 to registry.example.com/fleet/math:v1.2.0
  manifest sha256:6c3c…

  $ gpmd wasm push math@1.2.0+build.7 localhost:5000/fleet/math:1.2.0-build.7`,
		Args:              exactArgs(2, "NAME@VERSION REGISTRY/REPOSITORY[:TAG]"),
		ValidArgsFunction: f.completeModuleRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref, o.Target = args[0], args[1]
			return o.run(cmd)
		},
	}
	cmd.Flags().BoolVar(&o.PlainHTTP, "plain-http", false, "speak plain HTTP to a registry that is not on loopback")
	return cmd
}

func (o *pushOptions) run(cmd *cobra.Command) error {
	name, version, ok := parseRef(o.Ref)
	if name == "" || !ok || version == "" {
		return usageErrorf(cmd, "give the module as NAME@VERSION (an exact version), not %q", o.Ref)
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	bar := o.f.transferBar("pushing " + name + "@" + version)
	res, err := c.RegistryPush(cmd.Context(), api.PushRequest{Name: name, Version: version, Target: o.Target, PlainHTTP: o.PlainHTTP}, bar.callback())
	bar.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.IO.Out, "pushed %s@%s to %s\n", res.Module.Name, res.Module.Version, res.Reference)
	fmt.Fprintf(o.f.IO.Out, "manifest %s\n", res.Manifest)
	return nil
}

// exactArgs requires n arguments, named what in the message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf(cmd, "%s takes %d arguments, %s; got %d", cmd.CommandPath(), n, what, len(args))
		}
		return nil
	}
}
