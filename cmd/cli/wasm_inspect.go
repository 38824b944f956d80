package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/ghost-network/gpmd/wasm"
)

// inspectOptions are the flags of `gpmd wasm inspect`.
type inspectOptions struct {
	f      *Factory
	Ref    string
	Output string
}

// NewCmdWasmInspect is `gpmd wasm inspect`.
func NewCmdWasmInspect(f *Factory) *cobra.Command {
	o := &inspectOptions{f: f}
	cmd := &cobra.Command{
		Use:   "inspect NAME[@VERSION|@CONSTRAINT] [-o table|json]",
		Short: "Show what a module imports and exports",
		Long: `Show what the daemon recorded of a module version when it was uploaded:
its kind (module or component), size and digest; its imports and exports
with their signatures as a person reads them (add(i32, i32) -> i32);
its memories and tables with their limits; the start function; the
features its structure shows (threads, simd, ...); and the names of its
custom sections. VERSION and CONSTRAINT are as for gpmd wasm get (default:
the latest).

With -o json the output is the daemon's record: {"name", "version",
"digest", "size", "created", "kind", "imports", "exports", "memories",
"tables", "functions", "start", "custom_sections", "features"}; imports
and exports carry "kind" and, for functions, "params" and "results".

A version stored before uploads were parsed whose bytes are not a valid
module has no record: the command says why (exit 2).

` + exitStatusHelp,
		Example: `  $ gpmd wasm inspect math
  math@v0.0.2  module  96 B  sha256:5f3c0e0a4b1d…
  imports (1):
    env  log(i32)
  exports (2):
    add(i32, i32) -> i32
    memory memory 1..16
  ...
  $ gpmd wasm inspect 'math@^0.0' -o json | jq '.exports[].name'`,
		Args:              exactlyOneArg("NAME[@VERSION]"),
		ValidArgsFunction: f.completeModuleRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return o.run(cmd)
		},
	}
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *inspectOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	name, query, err := refArg(cmd, o.Ref)
	if err != nil {
		return err
	}
	mi, err := ask(o.f, cmd, requestTimeout, func(c *client.Client, ctx context.Context) (api.ModuleInfo, error) {
		return c.Info(ctx, name, query)
	})
	if err != nil {
		return err
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, mi)
	}
	return printInspect(o.f.IO.Out, mi)
}

// refArg splits NAME[@VERSION|@CONSTRAINT]; the query is "" for latest.
func refArg(cmd *cobra.Command, ref string) (name, query string, err error) {
	name, query, hasVersion := parseRef(ref)
	if name == "" {
		return "", "", usageErrorf(cmd, "give a module name: NAME[@VERSION]")
	}
	if hasVersion && query == "" {
		return "", "", usageErrorf(cmd, "nothing after @ in %q: give a version or constraint, or leave out the @ for the latest", ref)
	}
	return name, query, nil
}

// printInspect prints a module's record for a person.
func printInspect(w io.Writer, mi api.ModuleInfo) error {
	fmt.Fprintf(w, "%s@%s  %s  %s  %s\n", mi.Name, mi.Version, mi.Kind, units.FormatBytes(mi.Size), mi.Digest)
	if mi.Kind == wasm.KindComponent {
		fmt.Fprintln(w, "a component-model binary: its inside is not parsed")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "imports (%d):\n", len(mi.Imports))
	for _, im := range mi.Imports {
		fmt.Fprintf(tw, "  %s\t%s\n", im.Module, im.Signature())
	}
	fmt.Fprintf(tw, "exports (%d):\n", len(mi.Exports))
	for _, ex := range mi.Exports {
		fmt.Fprintf(tw, "  %s\n", ex.Signature())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var mems, tables []string
	for _, m := range mi.Memories {
		mems = append(mems, limitsText(m))
	}
	for _, t := range mi.Tables {
		tables = append(tables, t.Type+" "+limitsText(t.Limits))
	}
	fmt.Fprintf(w, "memories: %s\n", orNone(mems))
	fmt.Fprintf(w, "tables: %s\n", orNone(tables))
	fmt.Fprintf(w, "functions: %d defined\n", mi.Functions)
	if mi.Start != nil {
		fmt.Fprintf(w, "start: function %d\n", *mi.Start)
	}
	fmt.Fprintf(w, "features: %s\n", orNone(mi.Features))
	fmt.Fprintf(w, "custom sections: %s\n", orNone(mi.CustomSections))
	return nil
}

func limitsText(l wasm.Limits) string {
	s := l.String()
	if l.Imported {
		s += " (imported)"
	}
	return s
}

func orNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}
