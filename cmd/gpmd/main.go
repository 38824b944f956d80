// Command gpmd is the Ghost Port Mapper Daemon's command line; see `gpmd
// --help` and the README. It links no engine: the commands that run the
// daemon or open the store in this process (start --foreground, restore,
// rebuild-index, import, backup) replace it with gpmd-daemon, installed
// beside it (cli.ExecDaemon), so that every other command starts as a
// small program does (issue 15).
package main

import (
	"os"

	"github.com/ghost-network/gpmd/cmd/cli"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, cli.ExecDaemon)) }
