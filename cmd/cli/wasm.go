package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// NewCmdWasm is `gpmd wasm`, the group of the module commands.
func NewCmdWasm(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wasm <command>",
		Short: "Upload, list, fetch and remove WebAssembly modules",
		Long: `Manage the WebAssembly modules the daemon keeps for the GVMs of this
device. A module has a name (1-64 of a-z 0-9 _ -, starting with a letter)
and versions (semantic versions such as v0.0.1 or 1.2.3-beta.1); each
version's bytes are stored once, by their sha256 digest, and never change.

` + exitStatusHelp,
		Example: `  $ gpmd wasm upload --name=math --version=v0.0.1 --file=./math.wasm
  $ gpmd wasm list
  $ gpmd wasm get math@^0.0 -o math.wasm
  $ gpmd wasm rm math@v0.0.1`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(
		NewCmdWasmUpload(f),
		NewCmdWasmList(f),
		NewCmdWasmGet(f),
		NewCmdWasmRm(f),
		NewCmdWasmPush(f),
		NewCmdWasmPull(f),
	)
	return cmd
}

// parseRef splits NAME[@VERSION] at its first @.
func parseRef(ref string) (name, version string, hasVersion bool) {
	name, version, hasVersion = strings.Cut(ref, "@")
	return name, version, hasVersion
}
