package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/gmp"
)

// Environment variables gvm reads.
const (
	envGMPAddr = "GPMD_GMP_ADDR"
	envCache   = "GVM_CACHE"
)

// globals are the flags every command shares.
type globals struct {
	gmpAddr  string
	cacheDir string
	stdout   io.Writer
	stderr   io.Writer
	started  bool // a command's RunE began: errors before it are usage errors
}

// run runs gvm with args and returns the exit status; every error is one
// line on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr}
	cmd := newCmdRoot(g)
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err != nil && !g.started && !errors.As(err, new(*usageError)) {
		// cobra's own errors (unknown command, a required flag missing)
		// come before any command runs: they are about how gvm was called.
		err = &usageError{msg: err.Error() + " (see gvm --help)"}
	}
	if err != nil {
		fmt.Fprintln(stderr, oneLine(err))
	}
	return exitCode(err)
}

func newCmdRoot(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gvm <command> [flags]",
		Short: "The reference GVM node: run WebAssembly modules from GPMD, serve and call other nodes",
		Long: `gvm is the reference GVM node of the Ghost Network. It finds GPMD over GMP
(--gmp-addr, else $GPMD_GMP_ADDR, else 127.0.0.1:5989), fetches modules by
name and version, keeps them in a cache by digest and runs them on wazero.

` + exitStatusHelp,
		Example: `  $ gvm run math add 2 3
  $ gvm serve --name calc
  $ gvm call calc math.mul 6 7`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.applyEnv(cmd)
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&g.gmpAddr, "gmp-addr", gmp.DefaultAddr, "host:port where GPMD speaks GMP ($"+envGMPAddr+")")
	pf.StringVar(&g.cacheDir, "cache", "", "module and compilation cache folder ($"+envCache+"; default: the user cache folder /gvm)")
	cmd.MarkPersistentFlagDirname("cache")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error() + " (see " + c.CommandPath() + " --help)"}
	})
	cmd.AddCommand(newCmdRun(g), newCmdServe(g), newCmdCall(g))
	for _, c := range cmd.Commands() {
		if runE := c.RunE; runE != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				g.started = true
				return runE(cmd, args)
			}
		}
	}
	return cmd
}

// applyEnv fills the flags not given from the environment, then defaults.
func (g *globals) applyEnv(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("gmp-addr") {
		if v := os.Getenv(envGMPAddr); v != "" {
			g.gmpAddr = v
		}
	}
	if !cmd.Flags().Changed("cache") {
		g.cacheDir = os.Getenv(envCache)
	}
	if g.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no cache folder: %v (give --cache)", err)
		}
		g.cacheDir = filepath.Join(base, "gvm")
	}
	return nil
}

// minArgs is cobra.MinimumNArgs with gvm's usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return &usageError{msg: fmt.Sprintf("%s needs at least %d arguments, got %d (see %s --help)", cmd.Name(), n, len(args), cmd.CommandPath())}
		}
		return nil
	}
}
