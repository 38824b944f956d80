package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/fleet"
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/internal/sdnotify"
	"github.com/ghost-network/gpmd/pullthrough"
	"github.com/ghost-network/gpmd/repo"
)

// Timeouts of the control API's HTTP server. There is no read or write
// timeout on whole requests: a 200 MiB upload on a slow link is legitimate.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// handlerGrace is how long a stop waits, after the hard close that
	// follows an expired ShutdownTimeout, for handlers to return before
	// the repository closes under them.
	handlerGrace = 5 * time.Second
)

// Run runs a daemon until ctx ends, then stops it gracefully and returns
// nil; or returns the error that kept it from starting, having opened
// nothing that it did not close again. ready, if not nil, is called once
// both ports accept connections, with the daemon's state.
//
// Like net/http's server it has three phases, each in one function: open
// (every check, the lock, the log, the store, then the ports), serve (until
// ctx ends or a server fails), shutdown (stop accepting, let requests in
// flight finish, close the store, remove the state files, release the lock).
func Run(ctx context.Context, cfg conf.Config, ready func(conf.State)) error {
	d, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	cause := d.serve(ctx, ready)
	return errors.Join(cause, d.shutdown())
}

// daemon is a running daemon's parts, from open to shutdown.
type daemon struct {
	cfg        conf.Config
	log        *slog.Logger
	logHandler slog.Handler
	state      conf.State
	store      *repo.Repo   // nil once closed
	fleet      *fleet.Fleet // nil without --fleet
	hub        *events.Hub
	gmp        *gmp.Server
	http       *http.Server
	ctrlLn     net.Listener
	sockLn     net.Listener // the control API's Unix socket; nil when it could not be made
	gmpLn      net.Listener
	// handlers counts control handlers in flight: the store closes only
	// after they return, never under them.
	handlers sync.WaitGroup
	// closers undo what open did (the lock, the log file, the store, the
	// ports), run in reverse by close.
	closers []func() error

	// layer is the store behind the registry upstream, if any: what GMP
	// and the control API read modules through (registry.go).
	layer *pullthrough.Layer
}

// open checks everything that can fail before any port opens (conf.Config, the
// data folder, the lock, the file limit, the store), then opens the ports
// and writes the state file. On failure it closes what it opened.
func open(ctx context.Context, cfg conf.Config) (_ *daemon, err error) {
	setDefaults(&cfg)
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	token, err := tokenOf(&cfg)
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg}
	defer func() {
		if err != nil {
			d.close()
		}
	}()

	// The data folder, then the lock, before anything else is touched.
	if err := os.MkdirAll(cfg.DataDir, fsutil.DirMode); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	// A full disk is no reason to stop serving what is stored: the way out
	// (gpmd gc, gpmd wasm rm) needs a running daemon. Any other failure to
	// write is.
	diskFull := checkWritable(cfg.DataDir)
	if diskFull != nil && !errors.Is(diskFull, syscall.ENOSPC) {
		return nil, diskFull
	}
	release, err := conf.LockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	d.onClose(func() error { release(); return nil })
	if err := d.openLog(); err != nil {
		return nil, err
	}
	if diskFull != nil {
		d.log.Warn("the disk holding the data folder is full: serving what is stored, but uploads fail until space is freed (gpmd gc, gpmd wasm rm)", "err", diskFull)
	}
	tightenDataDir(cfg.DataDir, d.log)
	fdLimit, err := raiseFDLimit(cfg.GMPMaxConns, d.log)
	if err != nil {
		return nil, err
	}
	if err := d.openStore(ctx); err != nil {
		return nil, err
	}
	if err := d.openLayer(); err != nil {
		return nil, err
	}
	if err := d.openFleet(); err != nil {
		return nil, err
	}

	// The ports come last: a failure above never opened one.
	if err := d.openPorts(); err != nil {
		return nil, err
	}
	d.newServers(token)
	if err := writeState(cfg.DataDir, d.state); err != nil {
		removeState(cfg.DataDir, d.state.PID)
		if !errors.Is(err, syscall.ENOSPC) {
			return nil, fmt.Errorf("writing the state file: %w", err)
		}
		d.log.Warn("no state file (the disk is full): client commands find this daemon at its configured address only", "err", err)
	}

	st := d.state
	d.log.Info("gpmd started", "pid", st.PID, "version", cfg.Version, "control_addr", st.ControlAddr, "control_socket", st.ControlSocket, "gmp_addr", st.GMPAddr,
		"data_dir", cfg.DataDir, "token", token != "", "max_module_size", cfg.MaxModuleSize, "gmp_max_conns", cfg.GMPMaxConns, "fd_limit", fdLimit)
	d.log.Info("settings", settingsAttrs(&cfg)...)
	if !conf.IsLoopback(st.GMPAddr) {
		d.log.Warn("GMP listens off loopback and has no authentication: any host that reaches "+st.GMPAddr+" can register nodes and fetch modules", "gmp_addr", st.GMPAddr)
	}
	return d, nil
}

// openPorts opens the control and GMP ports and records the daemon's
// state with their real addresses (a port 0 resolved).
func (d *daemon) openPorts() (err error) {
	if d.ctrlLn, err = listen("control", "--control-addr", d.cfg.ControlAddr); err != nil {
		return err
	}
	d.onClose(d.ctrlLn.Close)
	d.ctrlLn = newLimitListener(d.ctrlLn, d.cfg.ControlMaxConns)
	if d.gmpLn, err = listen("GMP", "--gmp-addr", d.cfg.GMPAddr); err != nil {
		return err
	}
	d.onClose(d.gmpLn.Close)
	sockPath := ""
	if sl, err := listenSocket(d.cfg.DataDir); err != nil {
		// TCP serves on: a data folder too deep for a socket path (108
		// bytes) must not keep the daemon from starting.
		d.log.Warn("no control socket; the control API serves on TCP only", "err", err)
	} else {
		d.onClose(sl.Close)
		sockPath = sl.Addr().String()
		d.sockLn = &credListener{Listener: newLimitListener(sl, d.cfg.ControlMaxConns)}
	}
	d.state = conf.State{
		Info: api.Info{
			PID:           os.Getpid(),
			Version:       d.cfg.Version,
			Started:       time.Now(),
			ControlAddr:   d.ctrlLn.Addr().String(),
			ControlSocket: sockPath,
			GMPAddr:       d.gmpLn.Addr().String(),
			DataDir:       d.cfg.DataDir,
		},
		TokenFile: d.cfg.TokenFile,
	}
	if d.cfg.LogOutput == nil {
		d.state.LogFile = filepath.Join(d.cfg.DataDir, conf.LogFile)
	}
	return nil
}

// onClose adds f to what close undoes.
func (d *daemon) onClose(f func() error) { d.closers = append(d.closers, f) }

// close undoes what open did, in reverse; what remains open after a
// shutdown is only the ports (already closed by their servers), the log
// file and the lock.
func (d *daemon) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// openStore opens the module repository in <data>/modules.
func (d *daemon) openStore(ctx context.Context) error {
	dir := filepath.Join(d.cfg.DataDir, conf.ModulesDir)
	// The hub is made with the store: the store tells it of every
	// change from its first.
	d.hub = events.New(events.Options{Queue: d.cfg.EventsQueue, History: d.cfg.EventsHistory})
	store, err := repo.Open(ctx, dir, repo.Options{
		MaxModuleSize: d.cfg.MaxModuleSize,
		LockTimeout:   time.Second,
		Logger:        d.log.With("component", "repo"),
		Observer:      moduleEvents{hub: d.hub, log: d.log.With("component", "repo")},
	})
	if err != nil {
		if errors.Is(err, index.ErrLocked) {
			return fmt.Errorf("the module store %s is in use by another process: %w", dir, err)
		}
		return fmt.Errorf("opening the module store %s: %w", dir, err)
	}
	d.store = store
	d.onClose(d.closeStore)
	return nil
}

// closeStore closes the store once; later calls do nothing.
func (d *daemon) closeStore() error {
	if d.store == nil {
		return nil
	}
	err := d.store.Close()
	d.store = nil
	return err
}

// newServers makes the GMP server and the control API's HTTP server over
// the store; neither serves yet.
func (d *daemon) newServers(token string) {
	cfg := d.cfg
	m := d.newMetrics()
	gcfg := gmp.Config{
		Observer:       m,
		Modules:        d.layer,
		MaxMessage:     cfg.GMPMaxMessage,
		MaxConns:       cfg.GMPMaxConns,
		MessageTimeout: cfg.GMPMessageTimeout,
		WriteTimeout:   cfg.GMPWriteTimeout,
		ReplyTimeout:   cfg.GMPReplyTimeout,
		MaxRejecting:   cfg.GMPMaxRejecting,
		ServerName:     "gpmd/" + cfg.Version,
		Logger:         d.log.With("component", "gmp"),
		Events:         d.hub,
	}
	var fleetView control.Fleet
	if d.fleet != nil { // a nil *fleet.Fleet must not become a non-nil interface
		gcfg.Fleet, gcfg.Device = d.fleet, d.fleet.Status().Device
		fleetView = d.fleet
	}
	d.gmp = gmp.NewServer(gcfg)
	ctrl := control.NewServer(control.Config{
		Fleet:        fleetView,
		Modules:      d.layer,
		Nodes:        d.gmp,
		Events:       d.gmp,
		Ops:          d.store,
		Info:         d.state.Info,
		Token:        token,
		Addr:         guardAddr(cfg.ControlAddr, d.state.ControlAddr),
		OwnerUID:     uint32(os.Geteuid()),
		StallTimeout: cfg.ControlStallTimeout,
		MaxUploads:   cfg.ControlMaxUploads,
		Logger:       d.log.With("component", "control"),
		Observer:     m,
		Metrics:      m.Handler(),
		Registry:     registryAPI{d.layer},
	})
	d.http = &http.Server{
		Handler:           trackHandlers(&d.handlers, ctrl),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnContext:       connContext,
		ErrorLog:          slog.NewLogLogger(d.logHandler.WithAttrs([]slog.Attr{slog.String("component", "http")}), slog.LevelWarn),
	}
	// Event streams never end by themselves: a stop ends them.
	d.http.RegisterOnShutdown(ctrl.StopStreams)
}

// serve serves both ports until ctx ends (nil) or a server fails (its
// error). It returns with the servers still holding their connections:
// shutdown lets them finish.
func (d *daemon) serve(ctx context.Context, ready func(conf.State)) error {
	if err := d.startFleet(); err != nil {
		return err
	}
	serveErr := make(chan error, 3)
	stopping := make(chan struct{})
	serveHTTP := func(what string, l net.Listener) {
		err := d.http.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- wrapServe(what, err, stopping)
	}
	go serveHTTP("control API", d.ctrlLn)
	if d.sockLn != nil {
		// One http.Server, two listeners: Shutdown stops both.
		go serveHTTP("control socket", d.sockLn)
	}
	go func() {
		serveErr <- wrapServe("GMP", d.gmp.Serve(d.gmpLn), stopping)
	}()
	if ready != nil {
		ready(d.state)
	}
	stopWatchdog := d.notifyReady(ctx)
	defer stopWatchdog()

	var err error
	select {
	case <-ctx.Done():
		d.log.Info("stopping", "cause", context.Cause(ctx))
	case err = <-serveErr:
		d.log.Error("a server failed; stopping", "err", err)
	}
	close(stopping)
	d.notify(sdnotify.Stopping)
	return err
}

// shutdown stops both servers (gracefully for up to ShutdownTimeout, then
// hard), waits for control handlers, closes the store, removes the state
// files and releases the rest, the lock last. Its error is the store's.
func (d *daemon) shutdown() error {
	// The fleet first: the other devices drop this device's nodes at
	// once, rather than one by one as GMP's connections close.
	d.closeFleet()
	shutCtx, cancel := context.WithTimeout(context.Background(), d.cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.http.Shutdown(shutCtx); err != nil {
			d.log.Warn("control API did not stop in time; closing its connections", "err", err)
			d.http.Close()
		}
	})
	wg.Go(func() {
		if err := d.gmp.Shutdown(shutCtx); err != nil {
			d.log.Warn("GMP did not stop in time; closing its connections", "err", err)
			d.gmp.Close()
		}
	})
	wg.Wait()
	if !waitTimeout(&d.handlers, handlerGrace) {
		d.log.Error("control handlers still running after the hard close")
	}

	d.layer.Close() // pull-throughs in flight end before the store closes
	var storeErr error
	if err := d.closeStore(); err != nil {
		d.log.Error("closing the module store", "err", err)
		storeErr = fmt.Errorf("closing the module store: %w", err)
	}
	if err := removeState(d.cfg.DataDir, d.state.PID); err != nil {
		d.log.Warn("removing the state files", "err", err)
	}
	d.log.Info("gpmd stopped", "pid", d.state.PID, "uptime", time.Since(d.state.Started).Round(time.Millisecond))
	d.close()
	return storeErr
}

// guardAddr is the address the control API's origin guard checks Host
// headers against: the host as configured (a name given in --control-addr
// is what clients send) on the real port (port 0 resolved).
func guardAddr(configured, real string) string {
	host, _, err1 := net.SplitHostPort(configured)
	_, port, err2 := net.SplitHostPort(real)
	if err1 != nil || err2 != nil {
		return real
	}
	return net.JoinHostPort(host, port)
}

// listen opens one of the daemon's ports, with a message that names the
// flag to change when the address is taken.
func listen(what, flag, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%s address %s is already in use (another gpmd, or another program; choose another with %s)", what, addr, flag)
		}
		return nil, fmt.Errorf("%s address %s: %w", what, addr, err)
	}
	return l, nil
}

// wrapServe names a server's failure; an error once the stop has begun is
// the stop itself.
func wrapServe(what string, err error, stopping <-chan struct{}) error {
	select {
	case <-stopping:
		return nil
	default:
	}
	if err == nil {
		return fmt.Errorf("%s server stopped on its own", what)
	}
	return fmt.Errorf("%s server: %w", what, err)
}

// dropOnError is the log's second output (a foreground daemon's stderr):
// once a write to it fails (the pipe's reader went away: `gpmd start -nd
// 2>&1 | head`), it is dropped, so the log file still gets every line and
// the daemon goes on serving. SIGPIPE is ignored by the caller (the CLI's
// foreground start), which turns such a write into EPIPE instead of death.
type dropOnError struct {
	mu sync.Mutex // guards w
	w  io.Writer  // nil once a write failed
}

func (d *dropOnError) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w != nil {
		if _, err := d.w.Write(p); err != nil {
			d.w = nil
		}
	}
	return len(p), nil
}

// trackHandlers counts running handlers so that the stop can wait for them
// before it closes the repository under them.
func trackHandlers(wg *sync.WaitGroup, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		h.ServeHTTP(w, r)
	})
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
