package cli

import (
	"io"
	"testing"
)

// BenchmarkRunVersion is the in-process part of `gpmd version`'s start
// (issue 15): building the command tree and running version, without the
// process start and package initialisation (make bench-e2e measures those).
func BenchmarkRunVersion(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if code := Run([]string{"version"}, nil, io.Discard, io.Discard, ExecDaemon); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
