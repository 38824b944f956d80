package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/spf13/cobra"
)

// shortDigest is sha256: and the first 12 hex digits, for tables.
func shortDigest(d api.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return d.Algorithm() + ":" + e
}

// formatTime is a timestamp for tables, in local time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// formatAge is how long ago t was, coarsely: 5s, 3m, 2h, 4d.
func formatAge(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Output formats of -o on list, status and nodes.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// addFormatFlag adds -o/--output FORMAT to a command that prints data.
func addFormatFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVarP(p, "output", "o", formatTable, "output format: table or json")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{formatTable, formatJSON}, cobra.ShellCompDirectiveNoFileComp))
}

// checkFormat validates the value of -o.
func checkFormat(cmd *cobra.Command, format string) error {
	if format != formatTable && format != formatJSON {
		return usageErrorf(cmd, "unknown output format %q: use table or json", format)
	}
	return nil
}
