package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/cmd/engine"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// testCLI is a Factory with captured streams and a fake environment.
type testCLI struct {
	f        *Factory
	out, err *bytes.Buffer
}

func newTestCLI(t *testing.T, env map[string]string) *testCLI {
	t.Helper()
	out, errb := &bytes.Buffer{}, &bytes.Buffer{}
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["GPMD_HOME"]; !ok {
		env["GPMD_HOME"] = t.TempDir()
	}
	f := &Factory{
		IO:         &IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errb},
		Version:    "test",
		LookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Executable: os.Executable,
		Now:        time.Now,
		// The full tree: the engine runs in this process.
		Engine: func() (Engine, error) { return engine.Engine{}, nil },
	}
	return &testCLI{f: f, out: out, err: errb}
}

func (c *testCLI) run(args ...string) int {
	c.out.Reset()
	c.err.Reset()
	return c.f.run(args)
}

// serve runs a control API over a real repository on 127.0.0.1 and
// returns its address.
func serve(t *testing.T) string {
	t.Helper()
	r, err := repo.Open(t.Context(), t.TempDir(), repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(control.NewServer(control.Config{Modules: r}))
	t.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return srv.Listener.Addr().String()
}

func TestRewriteArgs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"start -nd", "start --foreground"},
		{"--data-dir /x start -nd --gmp-addr 1", "--data-dir /x start --foreground --gmp-addr 1"},
		{"-nd start", "-nd start"},
		{"start -- -nd", "start -- -nd"},
		{"wasm list -nd", "wasm list -nd"},
	} {
		if got := strings.Join(rewriteArgs(strings.Fields(c.in)), " "); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{&usageError{err: errors.New("x")}, 2},
		{fmt.Errorf("u: %w", errdefs.ErrInvalid), 2},
		{fmt.Errorf("u: %w", errdefs.ErrNotWasm), 2},
		{fmt.Errorf("u: %w", errdefs.ErrTooLarge), 2},
		{&api.NotRunningError{Addr: "a"}, 3},
		{&notRunningOnError{dir: "/d"}, 3},
		{&api.APIError{Status: 404, Code: api.CodeNotFound}, 4},
		{&api.APIError{Status: 409, Code: api.CodeConflict}, 5},
		{&api.APIError{Status: 401, Code: api.CodeUnauthorized}, 6},
		{&api.APIError{Status: 500, Code: api.CodeCorrupt}, 1},
		{&api.APIError{Status: 500, Code: api.CodeInternal}, 1},
		{context.Canceled, 130},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

// TestExitCodeOfEveryClass: every errdefs class has a deliberate exit
// status, whether it comes from the local store or across the wire (a class
// added to errdefs fails here until it is given one).
func TestExitCodeOfEveryClass(t *testing.T) {
	want := map[error]int{
		errdefs.ErrNotFound:     exitNotFound,
		errdefs.ErrExists:       exitConflict,
		errdefs.ErrConflict:     exitConflict,
		errdefs.ErrInvalid:      exitUsage,
		errdefs.ErrCorrupt:      exitError,
		errdefs.ErrTooLarge:     exitUsage,
		errdefs.ErrNoSpace:      exitError,
		errdefs.ErrUnavailable:  exitError,
		errdefs.ErrUnauthorized: exitUnauthorized,
	}
	for _, class := range errdefs.Classes() {
		code, ok := want[class]
		if !ok {
			t.Errorf("class %q has no deliberate exit status: add it to exitCode and to this test", class)
			continue
		}
		if got := exitCode(fmt.Errorf("module m@1.0.0: %w", class)); got != code {
			t.Errorf("class %q: exit %d, want %d", class, got, code)
		}
	}
	// Narrower errors keep statuses of their own.
	for _, c := range []struct {
		err  error
		want int
	}{
		{api.ErrNotRunning, exitNotRunning},
		{fmt.Errorf("restore: %w", errdefs.ErrNotEmpty), exitUsage},
		{fmt.Errorf("x: %w", errdefs.ErrNotWasm), exitUsage},
		{fmt.Errorf("x: %w", &wasm.FormatError{Msg: "section 1 (type) at byte 8: …"}), exitUsage},
		{fmt.Errorf("x: %w", errdefs.ErrModuleCorrupt), exitError},
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), exitNotFound},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.want)
		}
	}
	if !errors.Is(api.ErrNotRunning, errdefs.ErrUnavailable) {
		t.Error("ErrNotRunning is not of class ErrUnavailable")
	}
}

// TestHelpIsComplete: every command has Use, Short, Long with the exit
// statuses, and Examples; every flag has help; every flag bound to an
// environment variable names it.
func TestHelpIsComplete(t *testing.T) {
	c := newTestCLI(t, nil)
	root := NewCmdRoot(c.f)
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if cmd.Short == "" || cmd.Use == "" || !strings.Contains(cmd.Long, "Exit status:") || cmd.Example == "" {
			t.Errorf("%s: incomplete help (Use %q, Short %q, Long has exit statuses: %v, Example %q)",
				cmd.CommandPath(), cmd.Use, cmd.Short, strings.Contains(cmd.Long, "Exit status:"), cmd.Example)
		}
		cmd.Flags().VisitAll(func(fl *pflag.Flag) {
			if fl.Usage == "" {
				t.Errorf("%s --%s: no help", cmd.CommandPath(), fl.Name)
			}
		})
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for _, b := range c.f.envs {
		var found bool
		var check func(cmd *cobra.Command)
		check = func(cmd *cobra.Command) {
			for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.PersistentFlags()} {
				if fl := fs.Lookup(b.flag); fl != nil && strings.Contains(fl.Usage, "$"+b.env) {
					found = true
				}
			}
			for _, sub := range cmd.Commands() {
				check(sub)
			}
		}
		check(root)
		if !found {
			t.Errorf("--%s does not name $%s in its help", b.flag, b.env)
		}
	}
	// And --help prints it.
	if code := c.run("wasm", "upload", "--help"); code != 0 || !strings.Contains(c.out.String(), "--file string") || !strings.Contains(c.out.String(), "Exit status:") {
		t.Errorf("wasm upload --help: exit %d\n%s", code, c.out.String())
	}
	if code := c.run("start", "--help"); code != 0 || !strings.Contains(c.out.String(), "$GPMD_GMP_ADDR") || !strings.Contains(c.out.String(), "--gmp-max-conns") {
		t.Errorf("start --help: exit %d\n%s", code, c.out.String())
	}
}

// TestChildArgsCarryEverySetting: the background daemon's command line,
// read by a fresh `gpmd start`, gives back every setting this process
// resolved (each set to a value that is not its default).
func TestChildArgsCarryEverySetting(t *testing.T) {
	example := map[conf.Kind]string{conf.KindString: "127.0.0.9:7", conf.KindInt: "7", conf.KindSize: "3MiB", conf.KindDuration: "7s"}
	want := conf.DefaultConfig()
	for _, s := range conf.Settings() {
		v := example[s.Kind]
		switch s.Flag {
		case "data-dir", "token-file":
			v = filepath.Join(t.TempDir(), s.Flag)
		case "device": // checked as set: a value of its own shape
			v = "dev-7"
		case "advertise":
			v = "127.0.0.9"
		}
		if err := s.Set(&want, v); err != nil {
			t.Fatal(err)
		}
	}
	args := childArgs(want)
	if args[0] != "start" {
		t.Fatalf("child args %q", args)
	}
	c := newTestCLI(t, nil)
	root := NewCmdRoot(c.f)
	start, _, err := root.Find([]string{"start"})
	if err != nil {
		t.Fatal(err)
	}
	if err := start.ParseFlags(args[1:]); err != nil {
		t.Fatalf("child args %q: %v", args, err)
	}
	for _, s := range conf.Settings() {
		if got, w := s.Get(&c.f.settings), s.Get(&want); got != w {
			t.Errorf("--%s reaches the child as %q, want %q (args %q)", s.Flag, got, w, args)
		}
	}
}

// TestClientDefaultAddress: with no flag, variable or state file, the
// client commands call the default control address. Checked on the
// resolved client, without dialing: whatever listens on the default port
// on this machine does not matter.
func TestClientDefaultAddress(t *testing.T) {
	c := newTestCLI(t, nil)
	root := NewCmdRoot(c.f)
	status, _, err := root.Find([]string{"status"})
	if err != nil {
		t.Fatal(err)
	}
	if err := status.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	cl, err := c.f.Client(status)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if cl.Addr() != conf.DefaultControlAddr || conf.DefaultControlAddr != "127.0.0.1:1111" {
		t.Fatalf("client address %q, want %q", cl.Addr(), "127.0.0.1:1111")
	}
}

func TestGetRefusesTerminal(t *testing.T) {
	c := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": serve(t)})
	yes := true
	c.f.IO.StdoutTTY = &yes
	if code := c.run("wasm", "get", "tiny"); code != 2 || !strings.Contains(c.err.String(), "refusing to write a binary module to a terminal") {
		t.Fatalf("exit %d, stderr %q", code, c.err.String())
	}
	if c.out.Len() != 0 {
		t.Fatalf("wrote %d bytes to the terminal", c.out.Len())
	}
	// -o FILE is fine on a terminal.
	c.f.IO.In = bytes.NewReader(testutil.TinyWasm)
	if code := c.run("wasm", "upload", "--name", "tiny", "--version", "1.0.0", "--file", "-"); code != 0 {
		t.Fatalf("upload: %s", c.err.String())
	}
	out := filepath.Join(t.TempDir(), "t.wasm")
	if code := c.run("wasm", "get", "tiny", "-o", out); code != 0 {
		t.Fatalf("get -o on a terminal: %s", c.err.String())
	}
}

// TestProgressBar: over 8 MiB with stderr a terminal, the upload draws a
// progress bar ending at 100%; piped, nothing; 8 MiB or less, nothing.
func TestProgressBar(t *testing.T) {
	addr := serve(t)
	big := filepath.Join(t.TempDir(), "big.wasm")
	if err := os.WriteFile(big, testutil.Wasm("f", 9<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(t.TempDir(), "small.wasm")
	if err := os.WriteFile(small, testutil.Wasm("f", 7<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		file string
		tty  bool
		bar  bool
	}{{big, true, true}, {big, false, false}, {small, true, false}} {
		cli := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": addr})
		tty := c.tty
		cli.f.IO.StderrTTY = &tty
		if code := cli.run("wasm", "upload", "--name", "m", "--version", fmt.Sprintf("1.0.%d", i), "--file", c.file); code != 0 {
			t.Fatalf("upload: %s", cli.err.String())
		}
		got := cli.err.String()
		if c.bar && (!strings.Contains(got, "\ruploading m@1.0.0 [") || !strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n")) {
			t.Errorf("%s tty=%v: no finished bar: %q", c.file, c.tty, got)
		}
		if !c.bar && got != "" {
			t.Errorf("%s tty=%v: stderr %q, want nothing", c.file, c.tty, got)
		}
		if !strings.HasPrefix(cli.out.String(), "Module Uploaded Successfully!\n") {
			t.Errorf("stdout %q", cli.out.String())
		}
	}
}

func TestProgressReaderDraws(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	p := newProgressReader(bytes.NewReader(make([]byte, 4000)), &out, "up", 4000, clock)
	buf := make([]byte, 1000)
	p.Read(buf)
	now = now.Add(time.Second)
	p.Read(buf)
	if !strings.Contains(out.String(), " 50% 2 KiB / 3.9 KiB 2 KiB/s") {
		t.Errorf("at half: %q", out.String())
	}
	io.Copy(io.Discard, p)
	p.finish()
	if !strings.Contains(out.String(), "100%") || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("at the end: %q", out.String())
	}
}

// TestEnvironment: variables set flags; a flag on the command line wins;
// a bad value names its variable.
func TestEnvironment(t *testing.T) {
	addr := serve(t)
	c := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": addr})
	if code := c.run("status", "-o", "json"); code != 0 {
		t.Fatalf("GPMD_CONTROL_ADDR: %s", c.err.String())
	}
	c = newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": "127.0.0.1:1"})
	if code := c.run("--control-addr", addr, "status"); code != 0 {
		t.Fatalf("the flag did not win over the variable: %s", c.err.String())
	}
	c = newTestCLI(t, map[string]string{"GPMD_GMP_MAX_CONNS": "many"})
	if code := c.run("start", "-nd"); code != 2 || !strings.Contains(c.err.String(), "GPMD_GMP_MAX_CONNS") {
		t.Fatalf("bad variable: exit %d %q", code, c.err.String())
	}
	c = newTestCLI(t, map[string]string{"GPMD_MAX_MODULE_SIZE": "1.5MiB"})
	if code := c.run("start"); code != 2 || !strings.Contains(c.err.String(), "GPMD_MAX_MODULE_SIZE") {
		t.Fatalf("bad size variable: exit %d %q", code, c.err.String())
	}
}
