// Package cli is the gpmd command line: one file per command, each with an
// options struct and a NewCmdX(*Factory) constructor. Run is the whole
// program; the mains of cmd/gpmd and cmd/gpmd-daemon only call it, each
// with its Engine (engine.go): gpmd, which links only light packages
// (cmd/gpmd's TestLightDependencies), hands the few commands that need the
// engine to gpmd-daemon.
//
// A run makes only the commands its words name (newCmdRootFor, root.go):
// help, completion, suggestions and errors are those of the whole tree,
// which TestLazyTreeIsTheTree holds byte for byte. Ctrl-C and SIGTERM
// cancel a command's context, except for the commands that have nothing
// to clean up (annotationNoSignals).
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

// annotationNoSignals marks a command that needs no handler for Ctrl-C
// and SIGTERM, whose set-up (signal.Notify starts the signal loop on an OS
// thread of its own, and stopping waits for it to go idle) costs about
// 0.3 ms of a start that issue 15 counts:
//   - version never blocks;
//   - wasm upload leaves nothing to clean: it only reads its file, and
//     the daemon aborts an upload whose connection closes, which the
//     kernel does at the process's death as the handler's cancel would.
//     The shell sees status 130 either way (128+SIGINT). When it draws a
//     progress bar (a long upload, on a terminal) it arms the handler
//     itself (interruptible), so the bar's line is ended and the
//     interruption said.
const annotationNoSignals = "gpmd-no-signals"

// catchSignals runs before every command (the root's PersistentPreRunE):
// it makes cmd interruptible unless cmd is annotated annotationNoSignals.
func (f *Factory) catchSignals(cmd *cobra.Command) {
	if _, quiet := cmd.Annotations[annotationNoSignals]; !quiet {
		f.interruptible(cmd)
	}
}

// interruptible makes Ctrl-C and SIGTERM cancel cmd's context: a download
// removes its partial file, a foreground daemon stops gracefully, a
// progress bar ends its line. A second signal is not caught and ends the
// program at once. run stops catching when the command ends; a second
// call does nothing.
func (f *Factory) interruptible(cmd *cobra.Command) {
	if f.stopSignals != nil {
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
