package cli

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// stubRegistry answers the registry endpoints from function fields: these
// tests are about the CLI (its output, bar and exit statuses); pullthrough
// and cmd/e2e run the real registry.
type stubRegistry struct {
	pull func(req api.PullRequest, progress func(done, total int64)) (api.PullResult, error)
}

func (s *stubRegistry) Push(ctx context.Context, _ index.Ref, req api.PushRequest, progress func(done, total int64)) (api.PushResult, error) {
	return api.PushResult{}, fmt.Errorf("push %s: %w: 401 from the registry", req.Target, errdefs.ErrUnauthorized)
}

func (s *stubRegistry) Pull(ctx context.Context, req api.PullRequest, progress func(done, total int64)) (api.PullResult, error) {
	return s.pull(req, progress)
}

func (s *stubRegistry) Tags(ctx context.Context, repository string, plain bool) ([]string, error) {
	return []string{"v1.2.0", "v1.0.0"}, nil
}

func (s *stubRegistry) Status() *api.RegistryStatus { return nil }

func serveRegistry(t *testing.T, reg control.Registry) string {
	t.Helper()
	r, err := repo.Open(t.Context(), t.TempDir(), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(control.NewServer(control.Config{Modules: r, Registry: reg}))
	t.Cleanup(func() { srv.Close(); r.Close() })
	return srv.Listener.Addr().String()
}

// TestWasmPullBar: on a terminal the pull draws the daemon's progress as a
// bar ending at 100%; piped, nothing but the result on stdout.
func TestWasmPullBar(t *testing.T) {
	reg := &stubRegistry{pull: func(req api.PullRequest, progress func(done, total int64)) (api.PullResult, error) {
		if progress != nil {
			for _, n := range []int64{1 << 20, 2 << 20, 3 << 20} {
				progress(n, 3<<20)
			}
		}
		return api.PullResult{Reference: req.Source, Module: api.Record{Name: "math", Version: "v1.2.0", Digest: api.Digest("sha256:" + strings.Repeat("a", 64))}}, nil
	}}
	addr := serveRegistry(t, reg)
	for _, tty := range []bool{true, false} {
		c := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": addr})
		c.f.IO.StderrTTY = &tty
		if code := c.run("wasm", "pull", "r.example/fleet/math:v1.2.0"); code != 0 {
			t.Fatalf("tty=%v: exit %d: %s", tty, code, c.err.String())
		}
		if want := "pulled r.example/fleet/math:v1.2.0\nmath@v1.2.0 sha256:"; !strings.HasPrefix(c.out.String(), want) {
			t.Errorf("tty=%v: stdout %q", tty, c.out.String())
		}
		got := c.err.String()
		if tty && (!strings.Contains(got, "\rpulling r.example/fleet/math:v1.2.0 [") || !strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n")) {
			t.Errorf("no finished bar: %q", got)
		}
		if !tty && got != "" {
			t.Errorf("piped: stderr %q", got)
		}
	}
}

func TestWasmRegistryExitStatuses(t *testing.T) {
	addr := serveRegistry(t, &stubRegistry{pull: func(req api.PullRequest, _ func(int64, int64)) (api.PullResult, error) {
		return api.PullResult{}, fmt.Errorf("pull %s: %w", req.Source, errdefs.ErrNotFound)
	}})
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"wasm", "push", "math@v1.0.0", "r.example/fleet/math"}, exitUnauthorized, ""},
		{[]string{"wasm", "push", "math", "r.example/fleet/math"}, exitUsage, ""},
		{[]string{"wasm", "push", "math@v1.0.0"}, exitUsage, ""},
		{[]string{"wasm", "pull", "r.example/fleet/none:v1.0.0"}, exitNotFound, ""},
		{[]string{"wasm", "list", "--remote", "r.example/fleet/math"}, exitOK, "v1.2.0\nv1.0.0\n"},
		{[]string{"wasm", "list", "math", "--remote", "r.example/fleet/math"}, exitUsage, ""},
	} {
		c := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": addr})
		if code := c.run(tc.args...); code != tc.code || c.out.String() != tc.out {
			t.Errorf("%v: exit %d, stdout %q; want %d, %q (stderr %q)", tc.args, code, c.out.String(), tc.code, tc.out, c.err.String())
		}
		if tc.code != exitOK && strings.Count(strings.TrimSuffix(c.err.String(), "\n"), "\n") != 0 {
			t.Errorf("%v: not one line: %q", tc.args, c.err.String())
		}
	}
}
