package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/internal/sdnotify"
	"github.com/spf13/cobra"
)

// startOptions are the flags of `gpmd start` that are not daemon
// settings; those (conf.Settings) land in the Factory's settings.
type startOptions struct {
	f *Factory

	Foreground bool
	ReadyFD    int // hidden: the detached child reports on this descriptor
	Wait       time.Duration
}

// readyMsg is what the detached daemon tells `gpmd start` on the ready
// pipe: its state once both ports accept connections, or why it failed.
type readyMsg struct {
	State *conf.State `json:"state,omitempty"`
	Error string      `json:"error,omitempty"`
}

// NewCmdStart is `gpmd start`.
func NewCmdStart(f *Factory) *cobra.Command {
	o := &startOptions{f: f, Wait: 15 * time.Second}
	cmd := &cobra.Command{
		Use:   "start [-nd|--foreground] [flags]",
		Short: "Start the daemon (in the background unless -nd)",
		Long: `Start the GPMD daemon on the data folder.

By default it starts in the background, in a session of its own, and
waits (up to --wait) until the daemon's ports accept connections: then it
prints "GPMD is running in the background." with the daemon's pid and
addresses, and exits 0. If the daemon cannot start (already running on
this data folder, a port taken, a data folder that cannot be opened,
a control address off loopback without a token) it prints why in one line
and exits non-zero, and no daemon is left running.

With -nd (or --foreground) the daemon runs in this terminal, logging to
standard error (journald's input under systemd; the background daemon logs
to <data>/gpmd.log, rotated by --log-max-size and --log-keep); Ctrl-C or
SIGTERM stop it gracefully: requests in flight finish, the store closes,
the pid file goes. Under systemd (packaging/systemd/gpmd.service) it tells
systemd when it is ready and stopping, and keeps its watchdog fed.

One daemon runs per data folder. A port of 0 in --control-addr or
--gmp-addr picks a free port; the daemon records the real addresses in
<data>/gpmd.state.json, where the other commands find them.

` + exitStatusHelp,
		Example: `  # the usual way
  $ gpmd start
  GPMD is running in the background.

  # in the foreground, with a data folder and ports of its own
  $ gpmd start -nd --data-dir /tmp/gpmd --control-addr 127.0.0.1:0 --gmp-addr 127.0.0.1:0

  # the control API on every interface needs a token
  $ head -c 32 /dev/urandom | base64 > ~/.gpmd-token
  $ gpmd start --control-addr 0.0.0.0:1111 --token-file ~/.gpmd-token`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Foreground {
				return o.runForeground(cmd)
			}
			return o.runDetached(cmd)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Foreground, "foreground", false, "run in the foreground (also -nd); Ctrl-C stops it")
	fl.IntVar(&o.ReadyFD, "ready-fd", 0, "descriptor on which to report readiness (used by start itself)")
	fl.MarkHidden("ready-fd")
	fl.DurationVar(&o.Wait, "wait", o.Wait, "how long start waits for the detached daemon to be ready")
	f.addSettings(fl, false)
	return cmd
}

// config is the daemon's configuration from the flags and environment
// (each setting checked as it was read), with every path absolute (the
// data folder, and each setting marked Path).
func (o *startOptions) config() (conf.Config, error) {
	cfg := o.f.settings
	var err error
	if cfg.DataDir, err = o.f.DataDir(); err != nil {
		return conf.Config{}, err
	}
	for _, st := range conf.Settings() {
		if !st.Path {
			continue
		}
		p, err := absPath(st.Get(&cfg))
		if err != nil {
			return conf.Config{}, err
		}
		if err := st.Set(&cfg, p); err != nil {
			return conf.Config{}, err
		}
	}
	cfg.Version = o.f.Version
	return cfg, nil
}

// childArgs is the command line of the background daemon: the foreground
// mode reporting on descriptor 3, and every setting of cfg as a flag, so
// the child runs on exactly what this process resolved (its flags win over
// any variable it inherits).
func childArgs(cfg conf.Config) []string {
	args := []string{"start", "--foreground", "--ready-fd", "3"}
	for _, s := range conf.Settings() {
		if v := s.Get(&cfg); v != "" {
			args = append(args, "--"+s.Flag+"="+v)
		}
	}
	return args
}

// runForeground runs the daemon in this process until Ctrl-C or SIGTERM.
// Run by a person, it logs to standard error too; run by runDetached (with
// --ready-fd), it reports readiness or its error on the ready descriptor.
func (o *startOptions) runForeground(cmd *cobra.Command) error {
	// First, before anything else is done: in gpmd this does not return
	// but runs the whole command again in gpmd-daemon (Engine).
	eng, engErr := o.f.Engine()
	// A closed stdout or stderr pipe (`gpmd start -nd 2>&1 | head`) must
	// not kill the daemon: Go's runtime dies of SIGPIPE on a write to fd
	// 1 or 2 unless SIGPIPE is ignored; ignored, the write fails with EPIPE
	// and the log drops that output (conf.Config.LogOutput).
	signal.Ignore(syscall.SIGPIPE)
	var ready *os.File
	if o.ReadyFD > 0 {
		ready = os.NewFile(uintptr(o.ReadyFD), "ready")
		defer ready.Close()
		// Detached: no terminal can hang up on us.
		signal.Ignore(syscall.SIGHUP)
	}
	report := func(m readyMsg) {
		if ready != nil {
			data, _ := json.Marshal(m)
			ready.Write(append(data, '\n'))
			ready.Close()
			ready = nil
		}
	}
	if engErr != nil {
		report(readyMsg{Error: oneLine(engErr)})
		return engErr
	}
	cfg, err := o.config()
	if err != nil {
		report(readyMsg{Error: oneLine(err)})
		return err
	}
	if o.ReadyFD == 0 {
		cfg.LogOutput = o.f.IO.ErrOut
	} else {
		cfg.CaptureStderr = true
	}
	if cfg.Notifier, err = sdnotify.New(os.Getenv, os.Getpid()); err != nil {
		report(readyMsg{Error: oneLine(err)})
		return err
	}
	err = eng.RunDaemon(cmd.Context(), cfg, func(st conf.State) {
		if o.ReadyFD > 0 {
			report(readyMsg{State: &st})
			return
		}
		fmt.Fprintf(o.f.IO.Out, "GPMD is running in the foreground (pid %d): control %s, GMP %s, data %s. Ctrl-C stops it.\n",
			st.PID, st.ControlAddr, st.GMPAddr, st.DataDir)
	})
	if err != nil {
		report(readyMsg{Error: oneLine(err)})
		return err
	}
	if o.ReadyFD == 0 {
		fmt.Fprintln(o.f.IO.Out, "gpmd stopped")
	}
	return nil
}

// runDetached starts the daemon as a new process in its own session
// (childArgs: `gpmd start --foreground --ready-fd 3` with every setting
// passed as a flag) and waits for it to report on a pipe. A daemon that
// reports an error has exited; one that does not report in time is killed;
// so a failed start leaves nothing running. The child opens gpmd.log
// itself, once it holds the data folder's lock (its standard error follows
// the log then): a start that fails because a daemon runs never writes
// into that daemon's log.
func (o *startOptions) runDetached(cmd *cobra.Command) error {
	if o.Wait <= 0 {
		return usageErrorf(cmd, "--wait must be a positive duration such as 15s, not %s", o.Wait)
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, fsutil.DirMode); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	logPath := filepath.Join(cfg.DataDir, conf.LogFile)
	exe, err := o.f.Executable()
	if err != nil {
		return fmt.Errorf("finding the gpmd program to start: %w", err)
	}
	exe = daemonProgramFor(exe)
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()

	child := exec.Command(exe, childArgs(cfg)...)
	child.Dir = "/" // hold no folder busy
	// No output until the child holds the lock and points its standard
	// error at the log (nil: /dev/null); it reports errors on the pipe.
	child.Stdin, child.Stdout, child.Stderr = nil, nil, nil
	child.ExtraFiles = []*os.File{pw} // descriptor 3
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("starting %s: %w", exe, err)
	}
	pw.Close() // the child holds the only write end: EOF when it exits
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()

	msg, err := readReady(pr, o.Wait)
	switch {
	case err == nil && msg.State != nil:
		st := msg.State
		if err := dialCheck(st.ControlAddr); err != nil {
			stopChild(child, exited)
			return fmt.Errorf("gpmd reported ready but its control API does not answer (%v); stopped it (see %s)", err, logPath)
		}
		child.Process.Release()
		fmt.Fprintf(o.f.IO.Out, "GPMD is running in the background.\n  pid:     %d\n  control: %s\n", st.PID, st.ControlAddr)
		if st.ControlSocket != "" {
			fmt.Fprintf(o.f.IO.Out, "  socket:  %s\n", st.ControlSocket)
		}
		fmt.Fprintf(o.f.IO.Out, "  gmp:     %s\n  data:    %s\n  log:     %s\n", st.GMPAddr, st.DataDir, st.LogFile)
		return nil
	case err == nil && msg.Error != "":
		waitExit(exited, 5*time.Second)
		return errors.New(msg.Error)
	case errors.Is(err, os.ErrDeadlineExceeded):
		stopChild(child, exited)
		return fmt.Errorf("gpmd did not report ready within %s; stopped it (see %s)", o.Wait, logPath)
	default:
		// EOF: the child exited without a word (a crash).
		werr := waitExit(exited, 5*time.Second)
		if werr == nil {
			werr = errors.New("exited")
		}
		return fmt.Errorf("gpmd failed during start-up (%v); see %s", werr, logPath)
	}
}

// readReady reads the child's one message, waiting at most d.
func readReady(pr *os.File, d time.Duration) (readyMsg, error) {
	var m readyMsg
	if err := pr.SetReadDeadline(time.Now().Add(d)); err != nil {
		return m, err
	}
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("unreadable report from the daemon: %w", err)
	}
	return m, nil
}

// dialCheck proves that addr accepts connections.
func dialCheck(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// stopChild ends a child that did not start properly: SIGTERM, then
// SIGKILL when it does not exit soon.
func stopChild(child *exec.Cmd, exited <-chan error) {
	child.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(5 * time.Second):
	}
	child.Process.Kill()
	waitExit(exited, 5*time.Second)
}

func waitExit(exited <-chan error, d time.Duration) error {
	select {
	case err := <-exited:
		return err
	case <-time.After(d):
		return context.DeadlineExceeded
	}
}

// noArgs refuses arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
