package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/gvm/runner"
)

type runOptions struct {
	*globals
	name string
	dirs []string
}

func newCmdRun(g *globals) *cobra.Command {
	o := &runOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "run [--name N] MODULE[@VERSION|@CONSTRAINT] FUNCTION [ARGS...]",
		Short: "Fetch a module from GPMD, call one of its functions and print the results",
		Long: `run registers with GPMD as a node (a generated name without --name; not
discoverable: it serves nothing), fetches the module (the latest version
unless VERSION or a CONSTRAINT such as ^1.2 is given), checks its hash,
calls FUNCTION with ARGS converted by its signature (i32, i64, f32, f64),
prints the results on one line, unregisters and exits.

Modules may import WASI preview 1 (and the gvm host module, whose calls to
other nodes trap here: only gvm serve calls them); they see no files
unless --dir grants a folder, and no network. Their stdout and stderr are
gvm's. Fetched modules are kept in the cache by digest: the next run
offers the digest (GMP "have") and uses the cache when it is still the
version asked for.

` + exitStatusHelp,
		Example: `  $ gvm run math add 2 3
  5
  $ gvm run math@v0.0.1 mul 6 7
  42
  $ gvm run 'math@^0.0' add 2 3
  $ gvm run hello hello
  hello from wasm`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	cmd.Flags().StringVar(&o.name, "name", "", "node name to register (default: gvm-<random>)")
	cmd.Flags().StringArrayVar(&o.dirs, "dir", nil, "a host folder the module may use through WASI, at the same path (repeatable)")
	cmd.MarkFlagDirname("dir")
	cmd.Flags().SetInterspersed(false) // ARGS may begin with '-' (negative numbers)
	return cmd
}

// splitRef splits MODULE[@VERSION].
func splitRef(s string) (name, version string) {
	name, version, _ = strings.Cut(s, "@")
	return name, version
}

func (o *runOptions) run(cmd *cobra.Command, args []string) error {
	ctx := cmd.Context()
	name, version := splitRef(args[0])
	fn, fargs := args[1], args[2:]

	// The runtime starts while GMP talks: a warm run is mostly waiting.
	cache := &moduleCache{dir: o.cacheDir}
	var (
		rt     *runner.Runtime
		rtErr  error
		rtDone = make(chan struct{})
	)
	go func() {
		defer close(rtDone)
		rt, rtErr = runner.New(ctx, runner.Options{CacheDir: cache.compileDir(), Stdout: o.stdout, Stderr: o.stderr, Dirs: o.dirs})
	}()
	defer func() {
		<-rtDone
		if rt != nil {
			rt.Close(context.Background())
		}
	}()

	c, local, err := dialGMP(ctx, o.gmpAddr)
	if err != nil {
		return err
	}
	reg := registration{name: o.name, id: newNodeID(), discoverable: false}
	if reg.name == "" {
		reg.name = "gvm-" + randomHex(4)
	}
	// The node serves nothing; its GMP connection's own port stands in for
	// the port REGISTER requires.
	reg.port = portOf(local)
	if err := reg.register(ctx, c); err != nil {
		c.Close()
		return err
	}
	defer unregister(c)

	f := &fetcher{src: gmpSource{c: c}, c: c, cache: cache}
	info, wasm, err := f.fetch(ctx, name, version)
	if err != nil {
		return err
	}
	<-rtDone
	if rtErr != nil {
		return rtErr
	}
	m, err := rt.Load(ctx, name+"@"+info.Version, wasm)
	if err != nil {
		return err
	}
	results, err := m.Call(ctx, fn, fargs)
	if err != nil {
		return err
	}
	if len(results) > 0 {
		fmt.Fprintln(o.stdout, strings.Join(results, " "))
	}
	return nil
}
