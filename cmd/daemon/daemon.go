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
	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/index"
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
func Run(ctx context.Context, cfg Config, ready func(State)) error {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return err
	}
	var token string
	if cfg.TokenFile != "" {
		var err error
		if token, err = ReadToken(cfg.TokenFile); err != nil {
			return err
		}
	}

	// The data folder, then the lock, before anything else is touched.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	if err := checkWritable(cfg.DataDir); err != nil {
		return err
	}
	lk, err := acquireLock(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lk.release()

	logPath := filepath.Join(cfg.DataDir, LogFile)
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	defer logFile.Close()
	var logOut io.Writer = logFile
	if cfg.LogOutput != nil {
		logOut = io.MultiWriter(logFile, cfg.LogOutput)
	}
	logHandler := slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})
	log := slog.New(logHandler)

	fdLimit, err := raiseFDLimit(cfg.GMPMaxConns, log)
	if err != nil {
		return err
	}

	modulesDir := filepath.Join(cfg.DataDir, ModulesDir)
	store, err := repo.Open(ctx, modulesDir, repo.Options{
		MaxModuleSize: cfg.MaxModuleSize,
		LockTimeout:   time.Second,
		Logger:        log.With("component", "repo"),
	})
	if err != nil {
		if errors.Is(err, index.ErrLocked) {
			return fmt.Errorf("the module store %s is in use by another process: %w", modulesDir, err)
		}
		return fmt.Errorf("opening the module store %s: %w", modulesDir, err)
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()

	// The ports come last: a failure above never opened one.
	ctrlLn, err := listen("control", "--control-addr", cfg.ControlAddr)
	if err != nil {
		return err
	}
	defer ctrlLn.Close()
	gmpLn, err := listen("GMP", "--gmp-addr", cfg.GMPAddr)
	if err != nil {
		return err
	}
	defer gmpLn.Close()

	started := time.Now()
	st := State{
		PID:         os.Getpid(),
		Version:     cfg.Version,
		Started:     started,
		ControlAddr: ctrlLn.Addr().String(),
		GMPAddr:     gmpLn.Addr().String(),
		DataDir:     cfg.DataDir,
		TokenFile:   cfg.TokenFile,
		LogFile:     logPath,
	}

	gmpSrv := gmp.NewServer(gmp.Config{
		Modules:        store,
		MaxMessage:     cfg.GMPMaxMessage,
		MaxConns:       cfg.GMPMaxConns,
		MessageTimeout: cfg.GMPMessageTimeout,
		WriteTimeout:   cfg.GMPWriteTimeout,
		ServerName:     "gpmd/" + cfg.Version,
		Logger:         log.With("component", "gmp"),
	})
	ctrl := control.NewServer(control.Config{
		Modules: store,
		Nodes:   gmpSrv,
		Ops:     store,
		Info: control.Info{
			PID:         st.PID,
			Version:     cfg.Version,
			Started:     started,
			ControlAddr: st.ControlAddr,
			GMPAddr:     st.GMPAddr,
			DataDir:     cfg.DataDir,
		},
		Token:  token,
		Logger: log.With("component", "control"),
	})
	var handlers sync.WaitGroup
	httpSrv := &http.Server{
		Handler:           trackHandlers(&handlers, ctrl),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logHandler.WithAttrs([]slog.Attr{slog.String("component", "http")}), slog.LevelWarn),
	}

	if err := writeState(cfg.DataDir, st); err != nil {
		return fmt.Errorf("writing the state file: %w", err)
	}
	defer removeState(cfg.DataDir)

	serveErr := make(chan error, 2)
	stoppingNow := make(chan struct{})
	go func() {
		err := httpSrv.Serve(ctrlLn)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- wrapServe("control API", err, stoppingNow)
	}()
	go func() {
		serveErr <- wrapServe("GMP", gmpSrv.Serve(gmpLn), stoppingNow)
	}()

	log.Info("gpmd started", "pid", st.PID, "version", cfg.Version, "control_addr", st.ControlAddr, "gmp_addr", st.GMPAddr,
		"data_dir", cfg.DataDir, "token", token != "", "max_module_size", cfg.MaxModuleSize, "gmp_max_conns", cfg.GMPMaxConns, "fd_limit", fdLimit)
	if ready != nil {
		ready(st)
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("stopping", "cause", context.Cause(ctx))
	case runErr = <-serveErr:
		log.Error("a server failed; stopping", "err", runErr)
	}
	close(stoppingNow)

	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := httpSrv.Shutdown(shutCtx); err != nil {
			log.Warn("control API did not stop in time; closing its connections", "err", err)
			httpSrv.Close()
		}
	}()
	go func() {
		defer wg.Done()
		if err := gmpSrv.Shutdown(shutCtx); err != nil {
			log.Warn("GMP did not stop in time; closing its connections", "err", err)
			gmpSrv.Close()
		}
	}()
	wg.Wait()
	if !waitTimeout(&handlers, handlerGrace) {
		log.Error("control handlers still running after the hard close")
	}
	storeOpen = false
	if err := store.Close(); err != nil {
		log.Error("closing the module store", "err", err)
		runErr = errors.Join(runErr, fmt.Errorf("closing the module store: %w", err))
	}
	if err := removeState(cfg.DataDir); err != nil {
		log.Warn("removing the state files", "err", err)
	}
	log.Info("gpmd stopped", "pid", st.PID, "uptime", time.Since(started).Round(time.Millisecond))
	return runErr
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
