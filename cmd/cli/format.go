package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/internal/units"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// byteSize is a flag value of bytes: 1048576, 512KiB, 1MiB, 2GiB (K, M, G
// and KB, MB, GB are read as the binary units too).
type byteSize int64

func (b *byteSize) String() string { return units.FormatBytes(int64(*b)) }
func (b *byteSize) Type() string   { return "size" }

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func parseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{
		{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10},
		{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
	} {
		if strings.HasSuffix(upper, u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1048576, 512KiB or 256MiB", s)
	}
	return n * mult, nil
}

// shortDigest is sha256: and the first 12 hex digits, for tables.
func shortDigest(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return string(d.Algorithm()) + ":" + e
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
