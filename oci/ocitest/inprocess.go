package ocitest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"golang.org/x/crypto/bcrypt"

	// The registry finds its storage driver and auth scheme by name in
	// registries these imports fill.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// Registry is a running registry.
type Registry struct {
	// Host is 127.0.0.1:PORT, the REGISTRY part of references.
	Host string
	// URL is http://Host.
	URL string
	// Backend is the registry's own handler (in-process only): a front
	// handler forwards to it.
	Backend http.Handler

	stopOnce sync.Once
	stop     func()
}

// Stop stops the registry now (a test of an upstream going away); cleanup
// calls it too. It is idempotent.
func (r *Registry) Stop() { r.stopOnce.Do(r.stop) }

// Ref returns Host/rest.
func (r *Registry) Ref(rest string) string { return r.Host + "/" + rest }

type options struct {
	front    func(next http.Handler) http.Handler
	user     string
	password string
}

// Option configures New.
type Option func(*options)

// WithFront puts a handler in front of the registry: wrap gets the
// registry's handler and returns the one the server runs.
func WithFront(wrap func(next http.Handler) http.Handler) Option {
	return func(o *options) { o.front = wrap }
}

// WithBasicAuth makes the registry demand user and password (htpasswd).
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.user, o.password = user, password }
}

// New serves the distribution registry in-process with in-memory storage
// on a loopback httptest server, stopped at cleanup.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := &configuration.Configuration{
		Storage: configuration.Storage{
			"inmemory": configuration.Parameters{},
			"delete":   configuration.Parameters{"enabled": true},
			// No background sweeps: the test ends before they would run,
			// and a goroutine left behind would race the next test.
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	cfg.HTTP.Secret = "gpmd-test-secret"
	if o.user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(o.password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "htpasswd")
		if err := os.WriteFile(path, fmt.Appendf(nil, "%s:%s\n", o.user, hash), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth = configuration.Auth{"htpasswd": configuration.Parameters{"realm": "gpmd-test", "path": path}}
	}
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	var h http.Handler = app
	if o.front != nil {
		h = o.front(app)
	}
	srv := httptest.NewServer(h)
	r := &Registry{
		Host:    strings.TrimPrefix(srv.URL, "http://"),
		URL:     srv.URL,
		Backend: app,
		stop: func() {
			srv.Close()
			_ = app.Shutdown()
			cancel()
		},
	}
	t.Cleanup(r.Stop)
	return r
}
