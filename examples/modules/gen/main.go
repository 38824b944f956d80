// Command gen writes the binaries of the example modules (examples/modules/
// *.wasm) from their definitions in modules.go, which mirror the .wat
// sources beside them. Run it with `go generate ./examples/modules`; the
// tests check that the checked-in binaries are what it writes.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	dir := flag.String("dir", ".", "the folder to write the .wasm files to")
	flag.Parse()
	mods := examples()
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(*dir, n+".wasm")
		if err := os.WriteFile(p, mods[n].encode(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
