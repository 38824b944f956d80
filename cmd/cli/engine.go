package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
)

// Engine is what a few commands do with the store or the daemon in their
// own process: run the daemon (start --foreground), restore,
// rebuild-index, import and backup. It is the one seam between the command
// line and the engine (the daemon, repo, index and their dependencies):
// gpmd-daemon links an implementation (cmd/engine) and runs them here;
// gpmd links none and, by ExecDaemon, hands the whole command to
// gpmd-daemon, so that its own start stays that of a small program
// (issue 15). The rest of the command tree never needs it.
//
// Every method's errors say what failed; bad input wraps
// errdefs.ErrInvalid (exit status 2).
type Engine interface {
	// RunDaemon runs the daemon on cfg until ctx ends, calling ready once
	// both its ports accept connections. It returns once the daemon
	// stopped, nil after a stop that ctx asked for.
	RunDaemon(ctx context.Context, cfg conf.Config, ready func(conf.State)) error
	// Restore fills the empty module store of data folder dataDir from
	// from (a backup, or a copy of a data folder or of its modules/
	// folder), holding the folder's lock, and verifies the result.
	Restore(ctx context.Context, dataDir, from string) (api.RestoreReport, error)
	// RebuildIndex rebuilds the index of data folder dataDir from its
	// ghost.modules.json and blobs, holding the folder's lock. Unless
	// force, a healthy index is left alone: then rep is nil and versions
	// is what it holds.
	RebuildIndex(ctx context.Context, dataDir string, force bool) (rep *api.RestoreReport, versions int, err error)
	// Import uploads, through c, every version of the early store at from
	// (its modules folder, or the .ghost-network folder above it) whose
	// bytes match their hash, and reports each one refused. It fails at
	// once when the daemon does not answer.
	Import(ctx context.Context, c *client.Client, from string) (api.ImportReport, error)
	// ExtractBackup writes the backup stream r (client.Backup's) into the
	// folder to, which must be absent or empty (errdefs.ErrNotEmpty).
	ExtractBackup(ctx context.Context, r io.Reader, to string) (api.BackupReport, error)
}

// EngineFunc gives a command that needs the engine its Engine. It is
// called once the command's flags are checked and before the command
// does anything else, since the light binary's (ExecDaemon) does not
// return when it works: the process becomes gpmd-daemon, which runs the
// same command line from the start.
type EngineFunc func() (Engine, error)

// ExecDaemon is gpmd's EngineFunc: it replaces this process with
// gpmd-daemon (conf.DaemonProgram, beside this program, symbolic links
// resolved), given the same arguments and environment. The pid stays: a
// foreground daemon is still the process systemd started, and the one the
// lock file and the state file name. It returns only when gpmd-daemon
// cannot be run, with one line saying where it looked and how to install
// it (exit status 1).
func ExecDaemon() (Engine, error) {
	path, err := daemonBeside()
	if err != nil {
		return nil, err
	}
	err = syscall.Exec(path, os.Args, os.Environ())
	return nil, fmt.Errorf("running %s: %w", path, err)
}

// daemonBeside is the path of gpmd-daemon beside this program, checked to
// be there.
func daemonBeside() (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return "", fmt.Errorf("finding %s: cannot tell where this program is (%v)", conf.DaemonProgram, err)
	}
	path := filepath.Join(filepath.Dir(self), conf.DaemonProgram)
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s not found: this command runs in %s, which must be installed beside %s (make install, or make build for bin/)", path, conf.DaemonProgram, self)
	case err != nil:
		return "", fmt.Errorf("%s: %w", path, err)
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("%s is not an executable file: this command runs in %s, which must be installed beside %s (make install, or make build for bin/)", path, conf.DaemonProgram, self)
	}
	return path, nil
}

// daemonProgramFor is the program the background start runs: the
// gpmd-daemon beside exe (symbolic links resolved) when there is one, so
// that the child is the daemon from its first instruction; else exe
// itself, which hands the work to gpmd-daemon (ExecDaemon, which says so
// in one line when it is missing) or is gpmd-daemon.
func daemonProgramFor(exe string) string {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return exe
	}
	p := filepath.Join(filepath.Dir(real), conf.DaemonProgram)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return p
	}
	return exe
}
