// Package fleettest starts NATS servers with JetStream for the tests of the
// fleet layer: in the test process (github.com/nats-io/nats-server/v2, a
// test-only dependency) or as a real nats-server process built from the
// same module version. Every server listens on 127.0.0.1 on a port chosen
// at run time, stores in a t.TempDir, and stops at cleanup.
//
// Only _test.go files may import this package: it pulls the NATS server
// into the binary.
package fleettest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds a server's start.
const readyTimeout = 10 * time.Second

// Server is an in-process nats-server with JetStream.
type Server struct {
	t    testing.TB
	opts *server.Options
	srv  *server.Server
}

// RunServer starts a JetStream server with no authentication.
func RunServer(t testing.TB) *Server {
	t.Helper()
	return start(t, &server.Options{})
}

// RunServerConfig starts a server from a nats-server configuration (the
// format of nats-server -c), for authorization blocks; host, port, store
// and logging are set by the helper whatever conf says.
func RunServerConfig(t testing.TB, conf string) *Server {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(p)
	if err != nil {
		t.Fatalf("nats config: %v", err)
	}
	return start(t, opts)
}

func start(t testing.TB, opts *server.Options) *Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	opts.Port = -1
	opts.JetStream = true
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	opts.HTTPPort = 0
	s := &Server{t: t, opts: opts}
	s.boot()
	// The port is fixed from now on, so a restart comes back where the
	// clients reconnect.
	s.opts.Port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) boot() {
	s.t.Helper()
	srv, err := server.NewServer(s.opts.Clone())
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		s.t.Fatalf("nats server not ready within %s", readyTimeout)
	}
	s.srv = srv
}

// URL is the client URL, nats://127.0.0.1:<port>.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.opts.Port) }

// UserURL is the client URL with a user and password in it.
func (s *Server) UserURL(user, password string) string {
	return fmt.Sprintf("nats://%s:%s@127.0.0.1:%d", user, password, s.opts.Port)
}

// Stop shuts the server down and waits; it is idempotent.
func (s *Server) Stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server if running and starts it again on the same
// port with the same store, as after a crash of the fleet's server.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.boot()
}
