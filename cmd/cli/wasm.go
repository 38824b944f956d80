package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// newCmdWasmGroup is `gpmd wasm`, the group of the module commands,
// without them: wasmCommands lists them, and the tree (root.go) adds all of
// them or only the one a run names.
func newCmdWasmGroup(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "wasm <command>",
		Short: "Upload, list, inspect, check, fetch and remove WebAssembly modules",
		Long: `Manage the WebAssembly modules the daemon keeps for the GVMs of this
device. A module has a name (1-64 of a-z 0-9 _ -, starting with a letter)
and versions (semantic versions such as v0.0.1 or 1.2.3-beta.1); each
version's bytes are stored once, by their sha256 digest, and never change.

` + exitStatusHelp,
		Example: `  $ gpmd wasm upload --name=math --version=v0.0.1 --file=./math.wasm
  $ gpmd wasm list
  $ gpmd wasm get math@^0.0 -o math.wasm
  $ gpmd wasm inspect math
  $ gpmd wasm check math@v0.0.1
  $ gpmd wasm rm math@v0.0.1`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	return cmd
}

// wasmCommands are the subcommands of `gpmd wasm`.
func wasmCommands() []subcommand {
	return []subcommand{
		{name: "upload", new: NewCmdWasmUpload},
		{name: "list", new: NewCmdWasmList},
		{name: "get", new: NewCmdWasmGet},
		{name: "rm", new: NewCmdWasmRm},
		{name: "push", new: NewCmdWasmPush},
		{name: "pull", new: NewCmdWasmPull},
		{name: "inspect", new: NewCmdWasmInspect},
		{name: "check", new: NewCmdWasmCheck},
	}
}

// parseRef splits NAME[@VERSION] at its first @.
func parseRef(ref string) (name, version string, hasVersion bool) {
	name, version, hasVersion = strings.Cut(ref, "@")
	return name, version, hasVersion
}
