// Package cli is the gpmd command line: one file per command, each with an
// options struct and a NewCmdX(*Factory) constructor. Run is the whole
// program; the mains of cmd/gpmd and cmd/gpmd-daemon only call it, each
// with its Engine (engine.go): gpmd, which links only light packages
// (cmd/gpmd's TestLightDependencies), hands the few commands that need the
// engine to gpmd-daemon.
//
// Every error ends as one line on standard error and an exit status chosen
// by exitCode (exit.go), the one place that maps error classes to statuses.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"
)

// Version of gpmd.
const Version = "1.0.0"

// Run runs gpmd with args (without the program name) and returns the exit
// status. engine gives the commands that need the engine theirs (Engine):
// gpmd-daemon passes its in-process one, gpmd ExecDaemon.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer, engine EngineFunc) int {
	f := newFactory(stdin, stdout, stderr, engine)
	return f.run(args)
}

func (f *Factory) run(args []string) int {
	args = rewriteArgs(args)
	return f.execute(newCmdRootFor(f, args), args)
}

// execute runs root, made by this Factory, on args (rewritten).
func (f *Factory) execute(root *cobra.Command, args []string) int {
	defer func() {
		if f.stopSignals != nil {
			f.stopSignals()
		}
	}()
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		fmt.Fprintln(f.IO.ErrOut, oneLine(err))
	}
	return exitCode(err)
}

// annotationNoSignals marks a command that never blocks (version): it
// does not catch signals, whose set-up (a locked OS thread for the signal
// loop, and waiting for it to go idle at the end) is a measurable part of
// a command that only prints a line (issue 15).
const annotationNoSignals = "gpmd-no-signals"

// catchSignals makes Ctrl-C and SIGTERM cancel cmd's context, for every
// command but those annotated annotationNoSignals: a download removes its
// partial file, a foreground daemon stops gracefully. A second signal is
// not caught and ends the program at once. It runs before the command
// (the root's PersistentPreRunE); run stops catching when the command ends.
func (f *Factory) catchSignals(cmd *cobra.Command) {
	if _, quiet := cmd.Annotations[annotationNoSignals]; quiet || f.stopSignals != nil {
		return
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	f.stopSignals = stop
	go func() {
		<-ctx.Done()
		stop()
	}()
	cmd.SetContext(ctx)
}

// rewriteArgs turns the documented `-nd` of `gpmd start` into
// --foreground: pflag would read -nd as the two shorthands -n and -d. Only
// an -nd after the word start, and before a "--", is rewritten.
func rewriteArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	sawStart := false
	for i, a := range out {
		switch {
		case a == "--":
			return out
		case a == "start":
			sawStart = true
		case a == "-nd" && sawStart:
			out[i] = "--foreground"
		}
	}
	return out
}

// versionLine is what `gpmd version` prints.
func versionLine(v string) string {
	return fmt.Sprintf("gpmd %s (%s, %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
