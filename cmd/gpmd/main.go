// Command gpmd is the Ghost Port Mapper Daemon and its command line; see
// `gpmd --help` and the README.
package main

import (
	"os"

	"github.com/ghost-network/gpmd/cmd/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
