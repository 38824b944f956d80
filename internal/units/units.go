// Package units formats and parses byte sizes for people: 8 B, 1.5 KiB,
// 256 MiB. One home, so every message and flag speaks the same units.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// FormatBytes formats n with binary prefixes: 8 B, 1.5 KiB, 256 MiB.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	s := strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
}

// ParseBytes reads a size that people write: 1048576, 512KiB, 256MiB, 2GiB
// (K, M, G and KB, MB, GB are read as the binary units too; a space before
// the unit is allowed). It must be positive; FormatBytes's fractions such
// as "1.5 KiB" are not read back.
func ParseBytes(s string) (int64, error) {
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
