package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestNonLoopbackWithoutToken: the daemon refuses to serve the control API
// off loopback without a token, before it binds anything. (0.0.0.0:0 is
// never bound: start refuses first; no traffic leaves loopback.)
func TestNonLoopbackWithoutToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		e := newEnv(t)
		for _, args := range [][]string{
			{"start", "--control-addr", addr, "--gmp-addr", "127.0.0.1:0"},
			{"start", "-nd", "--control-addr", addr, "--gmp-addr", "127.0.0.1:0"},
		} {
			r := e.run(nil, args...)
			if r.code == 0 {
				t.Fatalf("started: %v", r)
			}
			line := oneLine(t, r)
			if !strings.Contains(line, "refusing to serve the control API on "+addr+" without a token") || !strings.Contains(line, "--token-file") {
				t.Errorf("%v: %q", args, line)
			}
			e.assertNoDaemon()
		}
	}
}

// TestToken: with a token file the daemon answers 401 to any request
// without the right bearer token, even on loopback; the CLI sends the
// token from --token-file or GPMD_TOKEN_FILE.
func TestToken(t *testing.T) {
	e := newEnv(t)
	tokenFile := e.secret("token", []byte("correct-horse-battery-staple\n"))
	wrongFile := e.secret("wrong", []byte("not-the-token\n"))
	st := e.start("--token-file", tokenFile)
	tiny := e.file("tiny.wasm", testutil.TinyWasm)

	// The right token, by flag and by variable.
	e.gpmd("--token-file", tokenFile, "wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny)
	withVar := *e
	withVar.vars = append(append([]string{}, e.vars...), "GPMD_TOKEN_FILE="+tokenFile)
	withVar.gpmd("status")
	// A client of the same data folder finds the token file the daemon
	// recorded in its state.
	e.gpmd("wasm", "list")

	// The wrong token: 401, exit 6, one line.
	for _, args := range [][]string{
		{"--token-file", wrongFile, "status"},
		{"--token-file", wrongFile, "wasm", "list"},
		{"--token-file", wrongFile, "wasm", "get", "tiny"},
		{"--token-file", wrongFile, "wasm", "rm", "tiny@v0.0.1"},
		{"--token-file", wrongFile, "wasm", "upload", "--name", "tiny2", "--version", "1.0.0", "--file", tiny},
	} {
		r := e.run(nil, args...)
		if r.code != 6 || !strings.Contains(oneLine(t, r), "token is wrong") {
			t.Errorf("%v", r)
		}
	}

	// Raw requests without a token, and with a wrong one: 401 JSON.
	for _, auth := range []string{"", "Bearer not-the-token", "Basic Y29ycmVjdA==", "Bearer correct-horse-battery-staple-and-more"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+st.ControlAddr+"/v1/modules", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || body.Error != "unauthorized" || body.Message == "" {
			t.Errorf("Authorization %q: %d %+v", auth, resp.StatusCode, body)
		}
	}
	// Nothing was changed by the refused requests.
	mods := e.listJSON()
	if len(mods) != 1 || mods[0].Name != "tiny" || len(mods[0].Versions) != 1 {
		t.Fatalf("modules after refused requests: %+v", mods)
	}
	// The log names the refusals.
	logData, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(logData), "status=401") {
		t.Errorf("log lacks 401 lines")
	}
}

// TestForeground: -nd runs in this process, logs to stderr, and Ctrl-C
// (SIGINT) stops it cleanly.
func TestForeground(t *testing.T) {
	e := newEnv(t)
	cmd := gpmdCmd(e, append([]string{"start", "-nd"}, portZero...)...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when the process is reaped
	var waitErr error
	errText := make(chan string, 1)
	outText := make(chan string, 1)
	outDone, errDone := make(chan struct{}), make(chan struct{})
	go func() { b, _ := io.ReadAll(stderr); errText <- string(b); close(errDone) }()
	go func() { b, _ := io.ReadAll(stdout); outText <- string(b); close(outDone) }()
	go func() {
		<-outDone
		<-errDone
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})
	if !testutil.Eventually(10*time.Second, func() bool { _, err := conf.ReadState(e.dir); return err == nil }) {
		t.Fatal("foreground daemon wrote no state file within 10s")
	}
	tiny := e.file("tiny.wasm", testutil.TinyWasm)
	e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", tiny)

	cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
		if waitErr != nil {
			t.Fatalf("foreground daemon exited with %v", waitErr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("foreground daemon did not stop within 15s of SIGINT")
	}
	out, logs := <-outText, <-errText
	if !strings.Contains(out, "GPMD is running in the foreground") || !strings.HasSuffix(out, "gpmd stopped\n") {
		t.Errorf("stdout:\n%s", out)
	}
	if !strings.Contains(logs, "path=/v1/modules/tiny/v0.0.1/file status=200") || !strings.Contains(logs, `msg="gpmd stopped"`) {
		t.Errorf("stderr lacks the log:\n%s", logs)
	}
	e.assertNoDaemon()
	// The upload survived the stop.
	e.start()
	if got := e.gpmd("wasm", "get", "tiny").stdout; got != string(testutil.TinyWasm) {
		t.Error("upload lost across a foreground stop")
	}
}

// gpmdCmd prepares a gpmd command in e's environment, without running it.
func gpmdCmd(e *env, args ...string) *osexec.Cmd {
	c := osexec.Command(gpmdBin, args...)
	c.Env = e.environ()
	c.Dir = e.home
	return c
}

// listenLoopback holds a loopback port for the test and returns its
// address.
func listenLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}
