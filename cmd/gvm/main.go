// Command gvm is the reference GVM node of the Ghost Network: it registers
// with GPMD over GMP, fetches WebAssembly modules from it, runs them on
// wazero (gvm run), serves calls from other nodes (gvm serve) and calls
// them (gvm call). See docs/gvm.md.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }
