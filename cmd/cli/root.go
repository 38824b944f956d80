package cli

import (
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
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
			f.catchSignals(cmd)
			return f.applyEnv(cmd)
		},
		RunE: groupRunE,
	}
	pf := cmd.PersistentFlags()
	f.settings = conf.DefaultConfig()
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
	// gpmd --version prints what gpmd version prints.
	cmd.Version = f.Version
	cmd.SetVersionTemplate(versionLine(f.Version) + "\n")
	fixCompletionCmd(cmd)
	return cmd
}

// fixCompletionCmd makes cobra's `completion` command refuse a shell it
// does not know (`gpmd completion tcsh`) with one line and exit status 2:
// cobra's own shows its help and exits 0, as if the script were printed.
func fixCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	comp, _, err := root.Find([]string{"completion"})
	if err != nil || comp == root {
		return
	}
	comp.Long += `
Bash completion needs the bash-completion package (apt install
bash-completion, dnf install bash-completion, brew install bash-completion@2).
Module names complete from the running conf.

` + exitStatusHelp
	comp.Example = `  $ gpmd completion bash > /etc/bash_completion.d/gpmd
  $ gpmd completion zsh > "${fpath[1]}/_gpmd"
  $ gpmd completion fish > ~/.config/fish/completions/gpmd.fish`
	comp.Args = cobra.ArbitraryArgs
	comp.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf(cmd, "unknown shell %q: gpmd completes bash, zsh, fish and powershell", args[0])
		}
		return cmd.Help()
	}
	for _, sub := range comp.Commands() {
		sub.Long += "\n" + exitStatusHelp
		sub.Example = map[string]string{
			"bash":       "  $ gpmd completion bash > /etc/bash_completion.d/gpmd",
			"zsh":        `  $ gpmd completion zsh > "${fpath[1]}/_gpmd"`,
			"fish":       "  $ gpmd completion fish > ~/.config/fish/completions/gpmd.fish",
			"powershell": "  PS> gpmd completion powershell | Out-String | Invoke-Expression",
		}[sub.Name()]
		if sub.Example == "" {
			sub.Example = "  $ gpmd completion " + sub.Name()
		}
		if check := sub.Args; check != nil {
			sub.Args = func(cmd *cobra.Command, args []string) error {
				if err := check(cmd, args); err != nil {
					return &usageError{err: err, cmdPath: cmd.CommandPath()}
				}
				return nil
			}
		}
	}
}

// groupRunE runs a command that only groups others: alone it shows its
// help; with an argument that names no subcommand it is a usage error.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}
