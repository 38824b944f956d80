package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// IOStreams are a command's standard streams, and whether they are
// terminals (tests set the answers).
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// StdoutTTY and StderrTTY, when not nil, override the detection.
	StdoutTTY *bool
	StderrTTY *bool
}

// fder is an *os.File, or anything else with a descriptor.
type fder interface{ Fd() uintptr }

func isTerminal(w any) bool {
	f, ok := w.(fder)
	return ok && term.IsTerminal(int(f.Fd()))
}

// IsStdoutTTY reports whether standard output is a terminal.
func (s *IOStreams) IsStdoutTTY() bool {
	if s.StdoutTTY != nil {
		return *s.StdoutTTY
	}
	return isTerminal(s.Out)
}

// IsStderrTTY reports whether standard error is a terminal.
func (s *IOStreams) IsStderrTTY() bool {
	if s.StderrTTY != nil {
		return *s.StderrTTY
	}
	return isTerminal(s.ErrOut)
}

// Factory is what commands depend on: streams, environment, the global
// flags and how to reach the conf. One is made per run; nothing is
// global.
type Factory struct {
	IO      *IOStreams
	Version string
	// LookupEnv reads the environment (os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// Executable is the path of this program, re-run by `gpmd start`.
	Executable func() (string, error)
	// Engine gives the commands that run the daemon or open the store in
	// their own process what does it (see Engine); call it before
	// anything else the command does.
	Engine EngineFunc
	Now    func() time.Time

	// settings holds what the flags and environment variables set: every
	// daemon setting (conf.Settings). The client commands use DataDir,
	// ControlAddr and TokenFile; `gpmd start` all of them.
	settings conf.Config

	envs []envBinding

	// stopSignals, once interruptible ran, stops catching Ctrl-C and
	// SIGTERM.
	stopSignals func()
}

// envBinding ties a flag to the environment variable that sets it when the
// flag is not given.
type envBinding struct {
	flag, env string
}

// addSettings makes a flag, bound to its environment variable, of each
// daemon setting whose Client is client: the root command takes those the
// client commands share, `gpmd start` the others. The table is
// conf.Settings; nothing here names a setting.
func (f *Factory) addSettings(fs *pflag.FlagSet, client bool) {
	for _, s := range conf.Settings() {
		if s.Client != client {
			continue
		}
		fs.Var(settingValue{s: s, cfg: &f.settings}, s.Flag, s.Usage)
		f.bindEnv(fs, s.Flag, s.Env)
	}
}

// settingValue is a daemon setting as a flag value (pflag.Value).
type settingValue struct {
	s   conf.Setting
	cfg *conf.Config
}

func (v settingValue) String() string     { return v.s.Show(v.cfg) }
func (v settingValue) Set(x string) error { return v.s.Set(v.cfg, x) }
func (v settingValue) Type() string       { return v.s.TypeName() }

// bindEnv lets environment variable env set flag when it is not given on
// the command line, and says so in the flag's help.
func (f *Factory) bindEnv(fs *pflag.FlagSet, flag, env string) {
	fl := fs.Lookup(flag)
	if fl == nil {
		panic("bindEnv: no flag " + flag) // a programming error in this package
	}
	fl.Usage += " [$" + env + "]"
	f.envs = append(f.envs, envBinding{flag: flag, env: env})
}

// applyEnv sets, from the environment, each bound flag of cmd that the
// command line did not give. It marks them changed, as given.
func (f *Factory) applyEnv(cmd *cobra.Command) error {
	for _, b := range f.envs {
		fl := cmd.Flag(b.flag)
		if fl == nil || fl.Changed {
			continue
		}
		v, ok := f.LookupEnv(b.env)
		if !ok || v == "" {
			continue
		}
		if err := fl.Value.Set(v); err != nil {
			return usageErrorf(cmd, "environment variable %s=%q: %v", b.env, v, err)
		}
		fl.Changed = true
	}
	return nil
}

// DataDir is the data folder, absolute.
func (f *Factory) DataDir() (string, error) {
	return conf.ExpandHome(f.settings.DataDir)
}

// controlAddrGiven reports whether --control-addr or its variable was given
// with an address a client can dial: a port 0 (GPMD_CONTROL_ADDR=127.0.0.1:0
// exported for `gpmd start`) names no daemon, so the client commands find
// it as if no address were given.
func (f *Factory) controlAddrGiven(cmd *cobra.Command) bool {
	fl := cmd.Flag("control-addr")
	if fl == nil || !fl.Changed {
		return false
	}
	_, port, err := net.SplitHostPort(f.settings.ControlAddr)
	return err != nil || port != "0"
}

// Client connects to the conf. When --control-addr (or
// GPMD_CONTROL_ADDR) is given, at that address. Else over the data
// folder's Unix socket when it exists (and is trusted: conf.TrustedSocket);
// else at the address the daemon of the data folder recorded in its state
// file (so a daemon started on port 0 is found); else at the default. The
// token is --token-file's (or GPMD_TOKEN_FILE's), else the one the daemon
// recorded.
func (f *Factory) Client(cmd *cobra.Command) (*client.Client, error) {
	dir, err := f.DataDir()
	if err != nil {
		return nil, err
	}
	st, stErr := f.readState(dir)
	given := f.controlAddrGiven(cmd)
	sock, useSocket := "", false
	if !given {
		var sockErr error
		sock, useSocket, sockErr = conf.TrustedSocket(dir)
		var ue *conf.UntrustedError
		switch {
		case errors.As(sockErr, &ue):
			fmt.Fprintf(f.IO.ErrOut, "gpmd: ignoring the control socket: %v\n", ue)
		case errors.Is(sockErr, fs.ErrPermission):
			// Another user's data folder: say so, rather than "not
			// running" at an address that was never this daemon's.
			return nil, &api.SocketDeniedError{Path: sock, Err: sockErr}
		}
	}
	addr := f.settings.ControlAddr
	if !given && stErr == nil && st.ControlAddr != "" {
		addr = st.ControlAddr
	}
	tokenFile := f.settings.TokenFile
	if tokenFile == "" && stErr == nil && (st.ControlAddr == addr || useSocket && st.ControlSocket == sock) {
		tokenFile = st.TokenFile
	}
	token := ""
	if tokenFile != "" {
		if token, err = conf.ReadToken(tokenFile); err != nil {
			return nil, err
		}
	}
	if useSocket {
		return client.NewUnixClient(sock, token), nil
	}
	return client.NewClient(addr, token), nil
}

// readState reads the data folder's state file for the client commands. A
// file another user could have written is ignored, with a line on stderr
// that says why: it names where to connect and which token to send.
func (f *Factory) readState(dir string) (conf.State, error) {
	st, err := conf.ReadState(dir)
	var ue *conf.UntrustedError
	if errors.As(err, &ue) {
		fmt.Fprintf(f.IO.ErrOut, "gpmd: ignoring the state file: %v\n", ue)
	}
	return st, err
}

// ask makes one call to the daemon: it connects, bounds the call by
// timeout (0: no bound, for work that takes what the store's size takes;
// Ctrl-C still stops it) and closes the connection.
func ask[T any](f *Factory, cmd *cobra.Command, timeout time.Duration, call func(*client.Client, context.Context) (T, error)) (T, error) {
	c, err := f.Client(cmd)
	if err != nil {
		var zero T
		return zero, err
	}
	defer c.Close()
	ctx := cmd.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return call(c, ctx)
}

// absPath makes a path the user gave absolute, for the detached daemon
// (which runs in /).
func absPath(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

// newFactory is the Factory of a real run.
func newFactory(stdin io.Reader, stdout, stderr io.Writer, engine EngineFunc) *Factory {
	return &Factory{
		IO:         &IOStreams{In: stdin, Out: stdout, ErrOut: stderr},
		Version:    Version,
		LookupEnv:  os.LookupEnv,
		Executable: os.Executable,
		Engine:     engine,
		Now:        time.Now,
	}
}
