package cli

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/spf13/cobra"
)

// killOptions are the flags of `gpmd kill`.
type killOptions struct {
	f       *Factory
	Timeout time.Duration
}

// NewCmdKill is `gpmd kill`.
func NewCmdKill(f *Factory) *cobra.Command {
	o := &killOptions{f: f, Timeout: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "kill [flags]",
		Short: "Stop the daemon gracefully",
		Long: `Stop the daemon of the data folder gracefully: it sends SIGTERM, the
daemon lets requests in flight finish, closes the store and removes its
pid file; kill waits (up to --timeout) until it has exited, then prints
"gpmd stopped".

The daemon is found by the lock and pid it keeps in the data folder; when
none runs there and --control-addr is given, by asking the daemon at that
(loopback) address for its data folder. Before it signals, kill checks
with the kernel that the pid holds that folder's lock and runs gpmd or
gpmd-daemon (/proc/locks, /proc/PID/exe); otherwise it refuses and signals
nothing.

` + exitStatusHelp,
		Example: `  $ gpmd kill
  gpmd stopped

  $ gpmd kill --data-dir /tmp/gpmd`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "how long to wait for the daemon to exit")
	return cmd
}

func (o *killOptions) run(cmd *cobra.Command) error {
	if o.Timeout <= 0 {
		return usageErrorf(cmd, "--timeout must be a positive duration such as 30s, not %s", o.Timeout)
	}
	dir, err := o.f.DataDir()
	if err != nil {
		return err
	}
	pid, running, err := conf.Probe(dir)
	if err != nil {
		return err
	}
	if !running && o.f.controlAddrGiven(cmd) && conf.IsLoopback(o.f.settings.ControlAddr) {
		// Not on this data folder: ask the daemon at the address given
		// where its folder is, and stop it by that folder's lock.
		if other, err := o.dataDirFromAPI(cmd); err == nil && other != dir {
			dir = other
			pid, running, err = conf.Probe(dir)
			if err != nil {
				return err
			}
		}
	}
	if !running {
		return &notRunningOnError{dir: dir}
	}
	if pid == 0 {
		if st, err := conf.ReadState(dir); err == nil {
			pid = st.PID
		}
	}
	if pid == 0 {
		// Neither file names it (a start on a full disk writes neither):
		// the kernel's lock table does.
		if pid, _ = conf.LockHolder(dir); pid == 0 {
			return fmt.Errorf("gpmd is running on %s but its pid is unknown (lock and state files hold none)", dir)
		}
	}
	// The pid comes from files of the folder (and the folder, maybe, from
	// whatever listens at --control-addr): signal it only once the kernel
	// confirms it is the gpmd holding that folder's lock.
	if err := conf.VerifyHolder(dir, pid); err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return &notRunningOnError{dir: dir}
		}
		return fmt.Errorf("stopping gpmd (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(o.Timeout)
	for {
		_, running, err := conf.Probe(dir)
		if err != nil {
			return err
		}
		if !running {
			fmt.Fprintln(o.f.IO.Out, "gpmd stopped")
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gpmd (pid %d) did not stop within %s; it may still be finishing requests (kill -9 %d forces it)", pid, o.Timeout, pid)
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dataDirFromAPI asks the daemon at --control-addr for its data folder.
func (o *killOptions) dataDirFromAPI(cmd *cobra.Command) (string, error) {
	c, err := o.f.Client(cmd)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	return st.DataDir, nil
}

// notRunningOnError: no daemon holds the data folder.
type notRunningOnError struct{ dir string }

func (e *notRunningOnError) Error() string {
	return fmt.Sprintf("gpmd is not running on %s (start it with: gpmd start)", e.dir)
}

func (e *notRunningOnError) Unwrap() error { return api.ErrNotRunning }
