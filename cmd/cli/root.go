package cli

import (
	"slices"
	"strings"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// subcommand is an entry of the command tree's table: a command's name
// (the first word of its Use: the table is read before any command is
// made) and its constructor. A group's constructor makes it without its
// subcommands, which subs lists.
type subcommand struct {
	name string
	new  func(*Factory) *cobra.Command
	subs func() []subcommand
}

// rootCommands are the subcommands of gpmd.
func rootCommands() []subcommand {
	return []subcommand{
		{name: "start", new: NewCmdStart},
		{name: "kill", new: NewCmdKill},
		{name: "status", new: NewCmdStatus},
		{name: "wasm", new: newCmdWasmGroup, subs: wasmCommands},
		{name: "nodes", new: NewCmdNodes},
		{name: "events", new: NewCmdEvents},
		{name: "verify", new: NewCmdVerify},
		{name: "gc", new: NewCmdGC},
		{name: "backup", new: NewCmdBackup},
		{name: "restore", new: NewCmdRestore},
		{name: "rebuild-index", new: NewCmdRebuildIndex},
		{name: "import", new: NewCmdImport},
		{name: "version", new: NewCmdVersion},
	}
}

// NewCmdRoot is the gpmd command with every subcommand.
func NewCmdRoot(f *Factory) *cobra.Command {
	root := newCmdRootAlone(f)
	addAll(f, root, rootCommands())
	fixCompletionCmd(root)
	return root
}

// newCmdRootFor is the gpmd command with what a run of args needs (issue
// 15: building the whole tree is most of what `gpmd version` does in
// process). When the words of args name a command of the table, level by
// level as cobra's Find reads them, only that command is made (for a
// group, only its subcommand named); from the first level where no word is
// left or the word names nothing, the whole rest of the tree. So help,
// suggestions, completion (`completion`, `__complete`: no command of the
// table) and errors are those of the whole tree: the command cobra runs,
// its ancestors and everything they list are the same.
func newCmdRootFor(f *Factory, args []string) *cobra.Command {
	root := newCmdRootAlone(f)
	parent, table := root, rootCommands()
	for table != nil {
		word, rest, ok := firstCommandWord(args, commandFlags(parent))
		i := slices.IndexFunc(table, func(s subcommand) bool { return s.name == word })
		if !ok || i < 0 {
			addAll(f, parent, table)
			if parent == root {
				fixCompletionCmd(root)
			}
			return root
		}
		s := table[i]
		cmd := s.new(f)
		parent.AddCommand(cmd)
		parent, args, table = cmd, rest, nil
		if s.subs != nil {
			table = s.subs()
		}
	}
	// The command named is not `completion`: cobra's default one, which
	// ExecuteC would make, is never reached.
	root.CompletionOptions.DisableDefaultCmd = true
	return root
}

// addAll adds every command of table to parent, each group whole.
func addAll(f *Factory, parent *cobra.Command, table []subcommand) {
	for _, s := range table {
		cmd := s.new(f)
		if s.subs != nil {
			addAll(f, cmd, s.subs())
		}
		parent.AddCommand(cmd)
	}
}

// commandFlags are the flags cobra's Find reads cmd's words with: its own
// and, once merged, its parents' persistent ones (InheritedFlags merges
// them into Flags, as Find does).
func commandFlags(cmd *cobra.Command) *pflag.FlagSet {
	cmd.InheritedFlags()
	return cmd.Flags()
}

// firstCommandWord is the first word of args that cobra's Find takes for a
// command name at this level, and args without it: what is not a flag or
// a flag's value, before a "--". Whether a flag takes a value comes from
// its definition in flags (NoOptDefVal), read as cobra reads it: a flag
// flags does not define (-h, --help and --version are not yet defined
// when Find runs) is taken to have a value, and -xy (shorthands run
// together) to have none. TestLazyTreeIsTheTree holds it to the whole
// tree's Find.
func firstCommandWord(args []string, flags *pflag.FlagSet) (word string, rest []string, ok bool) {
	takesValue := func(s string) bool {
		if strings.Contains(s, "=") {
			return false
		}
		var fl *pflag.Flag
		switch {
		case strings.HasPrefix(s, "--"):
			fl = flags.Lookup(s[2:])
		case len(s) == 2:
			fl = flags.ShorthandLookup(s[1:])
		default:
			return false
		}
		return fl == nil || fl.NoOptDefVal == ""
	}
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			return "", nil, false
		case strings.HasPrefix(s, "-"):
			if takesValue(s) {
				i++
			}
		case s != "":
			rest = make([]string, 0, len(args)-1)
			rest = append(rest, args[:i]...)
			return s, append(rest, args[i+1:]...), true
		}
	}
	return "", nil, false
}

// newCmdRootAlone is the gpmd command with its flags and no subcommands.
func newCmdRootAlone(f *Factory) *cobra.Command {
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
	// gpmd --version prints what gpmd version prints.
	cmd.Version = f.Version
	cmd.SetVersionTemplate(versionLine(f.Version) + "\n")
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
