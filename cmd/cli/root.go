package cli

import (
	"github.com/ghost-network/gpmd/cmd/daemon"
	"github.com/spf13/cobra"
)

// NewCmdRoot is the gpmd command with every subcommand.
func NewCmdRoot(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpmd <command> [flags]",
		Short: "Ghost Port Mapper Daemon: the GVM node registry and WebAssembly module store of a device",
		Long: `GPMD keeps the WebAssembly modules of a device and tells its GVM nodes
about one another. It runs as a daemon (gpmd start) that serves GMP to
the GVMs (127.0.0.1:5989) and a control API to this command line
(127.0.0.1:1111).

Every flag can also be set by the environment variable shown in its help;
a flag on the command line wins over its variable.

` + exitStatusHelp,
		Example: `  $ gpmd start
  $ gpmd wasm upload --name=math --version=v0.0.1 --file=./math.wasm
  $ gpmd wasm list
  $ gpmd wasm get math@v0.0.1 -o math.wasm
  $ gpmd kill`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return f.applyEnv(cmd)
		},
		RunE: groupRunE,
	}
	pf := cmd.PersistentFlags()
	f.settings = daemon.DefaultConfig()
	f.addSettings(pf, true)
	cmd.MarkPersistentFlagDirname("data-dir")
	cmd.MarkPersistentFlagFilename("token-file")

	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{err: err, cmdPath: c.CommandPath()}
	})
	cmd.AddCommand(
		NewCmdStart(f),
		NewCmdKill(f),
		NewCmdStatus(f),
		NewCmdWasm(f),
		NewCmdNodes(f),
		NewCmdEvents(f),
		NewCmdVerify(f),
		NewCmdGC(f),
		NewCmdBackup(f),
		NewCmdRestore(f),
		NewCmdRebuildIndex(f),
		NewCmdImport(f),
		NewCmdVersion(f),
	)
	return cmd
}

// groupRunE runs a command that only groups others: alone it shows its
// help; with an argument that names no subcommand it is a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}
