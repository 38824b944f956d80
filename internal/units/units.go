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
