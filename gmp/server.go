package gmp

// API SKELETON — the helper that owns gmp/ replaces the bodies; cmd/ relies
// on the exported names below.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/ghost-network/gpmd/index"
)

// Defaults of the server's limits; each is overridable by a daemon flag.
const (
	DefaultMaxMessage     = 1 << 20
	DefaultMaxConns       = 10000
	DefaultMessageTimeout = 10 * time.Second // to finish a message once begun
	DefaultWriteTimeout   = 30 * time.Second // per write to a peer
)

// ModuleStore is what the server needs of the module repository
// (*repo.Repo satisfies it).
type ModuleStore interface {
	// Get resolves name+query and opens a verifying reader of rec.Size bytes.
	Get(ctx context.Context, name, query string) (index.Record, io.ReadCloser, error)
	List(ctx context.Context, name string) ([]index.Module, error)
}

// Config of a Server.
type Config struct {
	Modules        ModuleStore
	MaxMessage     int
	MaxConns       int
	MessageTimeout time.Duration
	WriteTimeout   time.Duration
	ServerName     string // e.g. "gpmd/1.0.0"
	Logger         *slog.Logger
}

// NodeInfo is one live registration.
type NodeInfo struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	Address      string    `json:"address"`
	Port         int       `json:"port"`
	Discoverable bool      `json:"discoverable"`
	Since        time.Time `json:"since"`
}

// Server serves GMP.
type Server struct{}

func NewServer(cfg Config) *Server { panic("unimplemented") }

// Serve accepts on l until Shutdown or Close; then it returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error { panic("unimplemented") }

// Shutdown stops accepting, lets in-flight requests finish, then closes
// every connection (or gives up when ctx ends).
func (s *Server) Shutdown(ctx context.Context) error { panic("unimplemented") }

// Close stops at once.
func (s *Server) Close() error { panic("unimplemented") }

// Nodes lists live registrations sorted by name.
func (s *Server) Nodes() []NodeInfo { panic("unimplemented") }

// ConnCount is the number of open GMP connections.
func (s *Server) ConnCount() int { panic("unimplemented") }
