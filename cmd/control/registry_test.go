package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// fakeRegistry injects the registry's behaviour through function fields:
// what these tests check is the wire (progress stream, error mapping), not
// the registry, which pullthrough's and the e2e tests run for real.
type fakeRegistry struct {
	push func(ctx context.Context, ref index.Ref, req api.PushRequest, progress func(done, total int64)) (api.PushResult, error)
	pull func(ctx context.Context, req api.PullRequest, progress func(done, total int64)) (api.PullResult, error)
}

func (f *fakeRegistry) Push(ctx context.Context, ref index.Ref, req api.PushRequest, p func(done, total int64)) (api.PushResult, error) {
	return f.push(ctx, ref, req, p)
}
func (f *fakeRegistry) Pull(ctx context.Context, req api.PullRequest, p func(done, total int64)) (api.PullResult, error) {
	return f.pull(ctx, req, p)
}
func (f *fakeRegistry) Tags(ctx context.Context, repository string, plain bool) ([]string, error) {
	return nil, fmt.Errorf("tags %s: %w", repository, errdefs.ErrNotFound)
}
func (f *fakeRegistry) Status() *api.RegistryStatus {
	return &api.RegistryStatus{Registry: "r.example/fleet"}
}

func newRegistryFixture(t *testing.T, reg Registry) *client.Client {
	t.Helper()
	r, err := repo.Open(t.Context(), t.TempDir(), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	s := NewServer(Config{
		Modules:  r,
		Registry: reg,
		Logger:   slog.New(slog.DiscardHandler),
		// Each reading of the clock moves it past progressInterval, so
		// that every report is sent.
		Now: func() time.Time { return time.Unix(now.Add(1), 0) },
	})
	srv := httptest.NewServer(s)
	c := client.NewClient(srv.Listener.Addr().String(), "")
	t.Cleanup(func() { c.Close(); srv.Close(); r.Close() })
	return c
}

func TestRegistryProgressStream(t *testing.T) {
	var failAfter atomic.Bool
	reg := &fakeRegistry{
		pull: func(ctx context.Context, req api.PullRequest, p func(done, total int64)) (api.PullResult, error) {
			for _, n := range []int64{10, 20, 30} {
				p(n, 30)
			}
			if failAfter.Load() {
				return api.PullResult{}, fmt.Errorf("pull %s: layer: %w: bytes differ", req.Source, errdefs.ErrCorrupt)
			}
			return api.PullResult{Reference: req.Source, Module: api.Record{Name: "math", Version: "v1.0.0"}}, nil
		},
	}
	c := newRegistryFixture(t, reg)
	var seen []int64
	res, err := c.RegistryPull(t.Context(), api.PullRequest{Source: "r.example/fleet/math:v1.0.0"}, func(done, total int64) { seen = append(seen, done) })
	if err != nil || res.Module.Name != "math" || fmt.Sprint(seen) != "[10 20 30]" {
		t.Fatalf("%+v %v, progress %v", res, err, seen)
	}
	// Without a progress callback: a plain JSON answer.
	if res, err := c.RegistryPull(t.Context(), api.PullRequest{Source: "r.example/fleet/math:v1.0.0"}, nil); err != nil || res.Module.Version != "v1.0.0" {
		t.Fatalf("%+v %v", res, err)
	}
	// An error once the stream began keeps its class.
	failAfter.Store(true)
	_, err = c.RegistryPull(t.Context(), api.PullRequest{Source: "r.example/fleet/math:v1.0.0"}, func(int64, int64) {})
	if !errors.Is(err, errdefs.ErrCorrupt) || !strings.Contains(err.Error(), "bytes differ") {
		t.Fatalf("in-stream error %v", err)
	}
}

// A registry refusing the daemon's credentials is 403 unauthorized (the
// caller's token was fine), still ErrUnauthorized for the CLI.
func TestRegistryRefusalIs403(t *testing.T) {
	reg := &fakeRegistry{
		push: func(ctx context.Context, _ index.Ref, req api.PushRequest, p func(done, total int64)) (api.PushResult, error) {
			return api.PushResult{}, fmt.Errorf("push %s: %w: 401", req.Target, errdefs.ErrUnauthorized)
		},
	}
	c := newRegistryFixture(t, reg)
	_, err := c.RegistryPush(t.Context(), api.PushRequest{Name: "math", Version: "v1.0.0", Target: "r.example/fleet/math"}, nil)
	var apiErr *api.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusForbidden || !errors.Is(err, errdefs.ErrUnauthorized) {
		t.Fatalf("%v (%+v)", err, apiErr)
	}
	// Bad requests never reach the registry.
	for _, req := range []api.PushRequest{{Name: "Bad!", Version: "v1.0.0", Target: "x/y"}, {Name: "math", Version: "one", Target: "x/y"}, {Name: "math", Version: "v1.0.0"}} {
		if _, err := c.RegistryPush(t.Context(), req, nil); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%+v: %v, want invalid", req, err)
		}
	}
	if _, err := c.RegistryTags(t.Context(), "r.example/fleet/none", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("tags: %v", err)
	}
	st, err := c.Status(t.Context())
	if err != nil || st.Registry == nil || st.Registry.Registry != "r.example/fleet" {
		t.Fatalf("status %+v %v", st.Registry, err)
	}
}
