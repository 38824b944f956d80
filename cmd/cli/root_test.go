package cli

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/spf13/cobra"
)

// closedAddr is a loopback address nothing listens on: the client
// commands of the tests below fail at once, the same way in both trees.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestLazyTreeIsTheTree: for every command path, and for help, completion,
// unknown words and root flags with values before and after the words, a
// run on the tree made for its arguments (newCmdRootFor) prints byte for
// byte what a run on the whole tree (NewCmdRoot) prints, with the same
// exit status. Nothing here reaches a daemon or the engine: the control
// address is closed, the engine and the executable refuse.
func TestLazyTreeIsTheTree(t *testing.T) {
	env := map[string]string{"GPMD_CONTROL_ADDR": closedAddr(t), "GPMD_HOME": t.TempDir()}
	dataDir := t.TempDir()

	var paths [][]string
	var walk func(cmd *cobra.Command, path []string)
	walk = func(cmd *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range cmd.Commands() {
			walk(sub, append(slices.Clip(path), sub.Name()))
		}
	}
	walk(NewCmdRoot(newTestCLI(t, env).f), nil)
	if len(paths) < 25 {
		t.Fatalf("only %d command paths in the whole tree", len(paths))
	}

	var cases [][]string
	for _, p := range paths {
		cases = append(cases,
			append(slices.Clip(p), "--help"),
			append(slices.Clip(p), "-h"),
			append(slices.Clip(p), "--no-such-flag"),
			append([]string{"--data-dir", dataDir}, append(slices.Clip(p), "--help")...),
			append(append([]string{"--data-dir=" + dataDir}, p...), "-h"),
			append(slices.Clip(p), "--data-dir", dataDir, "--help"),
			append([]string{"--"}, p...),
			append([]string{"help"}, p...),
		)
		if len(p) > 0 {
			// A flag of the root that takes a value swallows the word.
			cases = append(cases, append([]string{"--data-dir"}, p...))
			// The word misspelt: cobra's suggestions.
			cases = append(cases, append(slices.Clip(p[:len(p)-1]), p[len(p)-1]+"x"))
		}
	}
	cases = append(cases,
		nil,
		[]string{""},
		[]string{"nosuch"},
		[]string{"wasn"},
		[]string{"wasm"},
		[]string{"wasm", "uplod"},
		[]string{"wasm", "nosuch", "--help"},
		[]string{"wasm", "--help", "upload"},
		[]string{"wasm", "-o", "json", "list"},
		[]string{"wasm", "upload", "help"},
		[]string{"-h", "version"},
		[]string{"--data-dir=", "version"},
		[]string{"--control-addr", "version"},
		[]string{"wasm", "--", "list"},
		[]string{"--help", "wasm"},
		[]string{"--version"},
		[]string{"-v"},
		[]string{"version"},
		[]string{"version", "extra"},
		[]string{"version", "--output", "json"},
		[]string{"-", "version"},
		[]string{"--data-dir"},
		[]string{"wasm", "--data-dir"},
		[]string{"wasm", "upload"},
		[]string{"wasm", "upload", "--name", "m", "--version", "1.0.0"},
		[]string{"wasm", "get"},
		[]string{"wasm", "list"},
		[]string{"wasm", "list", "a", "b"},
		[]string{"--control-addr", "127.0.0.1:1", "status"},
		[]string{"status", "-o", "yaml"},
		[]string{"status"},
		[]string{"nodes", "-o", "xml"},
		[]string{"start", "-nd", "--help"},
		[]string{"start", "extra"},
		[]string{"kill", "extra"},
		[]string{"restore"},
		[]string{"rebuild-index", "extra"},
		[]string{"completion"},
		[]string{"completion", "bash"},
		[]string{"completion", "zsh"},
		[]string{"completion", "fish"},
		[]string{"completion", "powershell"},
		[]string{"completion", "tcsh"},
		[]string{"__complete", ""},
		[]string{"__complete", "w"},
		[]string{"__complete", "wasm", ""},
		[]string{"__complete", "wasm", "u"},
		[]string{"__complete", "wasm", "upload", "--"},
		[]string{"__complete", "wasm", "get", ""},
		[]string{"__complete", "--data-dir", ""},
		[]string{"__completeNoDesc", "wasm", ""},
		[]string{"__completeNoDesc", "status", "-"},
	)

	refuse := func() (Engine, error) { return nil, errors.New("no engine in this test") }
	run := func(args []string, lazy bool) (code int, out, errOut string) {
		c := newTestCLI(t, env)
		c.f.Engine = refuse
		c.f.Executable = func() (string, error) { return "", errors.New("no executable in this test") }
		args = rewriteArgs(args)
		root := NewCmdRoot(c.f)
		if lazy {
			root = newCmdRootFor(c.f, args)
		}
		code = c.f.execute(root, args)
		return code, c.out.String(), c.err.String()
	}
	for _, args := range cases {
		fullCode, fullOut, fullErr := run(args, false)
		lazyCode, lazyOut, lazyErr := run(args, true)
		if lazyCode != fullCode || lazyOut != fullOut || lazyErr != fullErr {
			t.Errorf("gpmd %q: the tree made for the run differs from the whole tree:\nexit %d, whole %d\nstdout:\n%s\nwhole:\n%s\nstderr:\n%s\nwhole:\n%s",
				args, lazyCode, fullCode, lazyOut, fullOut, lazyErr, fullErr)
		}
	}
}

// TestLazyTreeIsSmall: a run that names a command makes only it (and its
// group): what issue 15's start-up gains.
func TestLazyTreeIsSmall(t *testing.T) {
	names := func(cmd *cobra.Command) []string {
		var out []string
		for _, sub := range cmd.Commands() {
			out = append(out, sub.Name())
		}
		return out
	}
	for _, tc := range []struct {
		args       []string
		root, wasm []string
	}{
		{args: []string{"version"}, root: []string{"version"}},
		{args: []string{"--data-dir", "/tmp/x", "wasm", "upload", "--file", "-"}, root: []string{"wasm"}, wasm: []string{"upload"}},
		{args: []string{"wasm", "--control-addr", "127.0.0.1:7", "get", "m"}, root: []string{"wasm"}, wasm: []string{"get"}},
	} {
		root := newCmdRootFor(newTestCLI(t, nil).f, tc.args)
		if got := names(root); !slices.Equal(got, tc.root) {
			t.Errorf("gpmd %q: root has %q, want %q", tc.args, got, tc.root)
		}
		if tc.wasm == nil {
			continue
		}
		if got := names(root.Commands()[0]); !slices.Equal(got, tc.wasm) {
			t.Errorf("gpmd %q: wasm has %q, want %q", tc.args, got, tc.wasm)
		}
	}
	if got := len(NewCmdRoot(newTestCLI(t, nil).f).Commands()); got != len(rootCommands())+1 {
		t.Errorf("the whole tree has %d commands under the root, want the table's %d and completion", got, len(rootCommands()))
	}
}

// TestSignalsOnlyWhereNeeded: version and an upload without a progress bar
// set up no signal handler (annotationNoSignals: issue 15's start-up);
// a command that cleans up on Ctrl-C (wasm get's partial file) does.
func TestSignalsOnlyWhereNeeded(t *testing.T) {
	addr := serve(t)
	file := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(file, testutil.TinyWasm, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		catch bool
	}{
		{args: []string{"version"}},
		{args: []string{"wasm", "upload", "--name", "m", "--version", "1.0.0", "--file", file}},
		{args: []string{"wasm", "get", "m@1.0.0", "-o", filepath.Join(t.TempDir(), "out.wasm")}, catch: true},
	} {
		c := newTestCLI(t, map[string]string{"GPMD_CONTROL_ADDR": addr})
		if code := c.run(tc.args...); code != 0 {
			t.Fatalf("gpmd %q: exit %d: %s", tc.args, code, c.err.String())
		}
		if caught := c.f.stopSignals != nil; caught != tc.catch {
			t.Errorf("gpmd %q: signals caught %v, want %v", tc.args, caught, tc.catch)
		}
	}
}
