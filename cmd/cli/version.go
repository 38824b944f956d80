package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewCmdVersion is `gpmd version`.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of gpmd",
		Long: `Print the version of this gpmd program, the Go version it was built with,
and its platform. It needs no conf.

` + exitStatusHelp,
		Example: `  $ gpmd version
  gpmd 1.0.0 (go1.26.8, linux/amd64)`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoSignals: ""},
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(f.IO.Out, versionLine(f.Version))
			return err
		},
	}
}
