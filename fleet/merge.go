package fleet

import "strings"

// MergeNames merges this device's sorted bare names with the sorted
// name@device list of Names into one sorted list: the NODES reply of a
// DISCOVER with fleet scope (GMP.md). Neither input is modified.
func MergeNames(local, remote []string) []string {
	out := make([]string, 0, len(local)+len(remote))
	i, j := 0, 0
	for i < len(local) && j < len(remote) {
		if strings.Compare(local[i], remote[j]) <= 0 {
			out = append(out, local[i])
			i++
		} else {
			out = append(out, remote[j])
			j++
		}
	}
	out = append(out, local[i:]...)
	return append(out, remote[j:]...)
}
