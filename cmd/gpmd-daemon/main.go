// Command gpmd-daemon is gpmd with the engine linked in: the same command
// tree (cmd/cli), and the daemon, restore, rebuild-index, import and
// backup run in its own process (cmd/engine). gpmd hands those commands
// to it; run by hand, it works as gpmd does for every command.
package main

import (
	"os"

	"github.com/ghost-network/gpmd/cmd/cli"
	"github.com/ghost-network/gpmd/cmd/engine"
)

func main() { os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, inProcess)) }

// inProcess gives the commands that need the engine the in-process one.
func inProcess() (cli.Engine, error) { return engine.Engine{}, nil }
