package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
)

// TestControlSocket: the daemon serves the control API on <data>/gpmd.sock
// (0600) beside TCP; the CLI uses it when no --control-addr is given; the
// socket's guard takes its own Host and refuses a foreign Host or Origin;
// a stale socket of a killed daemon is replaced at the next start.
func TestControlSocket(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	sock := filepath.Join(e.dir, conf.SocketFile)
	if st.ControlSocket != sock {
		t.Fatalf("state names socket %q, want %q", st.ControlSocket, sock)
	}
	fi, err := os.Lstat(sock)
	if err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, mode %v; want a socket of mode 0600", sock, err, fi.Mode())
	}

	r := e.gpmd("status")
	if !strings.Contains(r.stdout, "socket:       "+sock) {
		t.Errorf("status does not show the socket:\n%s", r.stdout)
	}
	// The status request went over the socket: the daemon logged its
	// peer's uid (TCP requests carry none).
	log, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(log), "path=/v1/status status=200") || !strings.Contains(string(log), "peer_uid=0") {
		t.Errorf("the CLI's status did not come over the socket; log:\n%s", log)
	}

	hc := unixHTTP(sock)
	for _, c := range []struct {
		host, origin string
		status       int
		code         string
	}{
		{api.SocketHost, "", 200, ""},
		{"localhost", "", 200, ""},
		{"attacker.example", "", 403, api.CodeForbiddenHost},
		{api.SocketHost, "http://attacker.example", 403, api.CodeForbiddenOrigin},
		{api.SocketHost, "null", 403, api.CodeForbiddenOrigin},
		{api.SocketHost, "http://" + api.SocketHost, 200, ""},
	} {
		status, code := rawGet(t, hc, c.host, c.origin, "/v1/status")
		if status != c.status || code != c.code {
			t.Errorf("Host %q Origin %q over the socket: %d %q, want %d %q", c.host, c.origin, status, code, c.status, c.code)
		}
	}

	// A daemon killed with -9 leaves its socket; the CLI says it is not
	// running, and the next start replaces the socket.
	if err := syscall.Kill(st.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !e.waitStopped(10 * time.Second) {
		t.Fatal("gpmd still holds its folder after SIGKILL")
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("the killed daemon's socket is gone already (%v): the test proves nothing", err)
	}
	r = e.run(nil, "status")
	if line := oneLine(t, r); r.code != 3 || !strings.Contains(line, "not running") {
		t.Fatalf("status with a stale socket: %v", r)
	}
	st2 := e.start()
	if st2.ControlSocket != sock {
		t.Fatalf("restart: socket %q", st2.ControlSocket)
	}
	if r := e.gpmd("status", "-o", "json"); !strings.Contains(r.stdout, `"pid": `+strconv.Itoa(st2.PID)) {
		t.Fatalf("status after restart over the replaced socket:\n%s", r.stdout)
	}
}

// TestControlSocketPeerCredentials: another user (uid 65534, as the tests
// run as root) is refused by the file system while the socket is 0600 in a
// 0700 folder, and by the kernel's peer credentials (SO_PEERCRED) when the
// socket is opened to everyone: one line, exit status 6. The owner is
// served throughout.
func TestControlSocketPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a command as a second user")
	}
	e := newEnv(t)
	e.start()
	sock := filepath.Join(e.dir, conf.SocketFile)
	bin := nobodyBinary(t)
	// The folders above the data folder (the test's temp folders, 0700)
	// must let the second user through to reach the data folder at all.
	for d := filepath.Dir(e.dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	asNobody := func() result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "status")
		cmd.Env = []string{"GPMD_HOME=" + e.dir, "HOME=" + filepath.Dir(bin), "PATH=/usr/bin:/bin"}
		cmd.Dir = filepath.Dir(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		r := result{args: []string{"status (uid 65534)"}, stdout: out.String(), stderr: errb.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			r.code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// The file system refuses first: the data folder is 0700, the socket 0600.
	r := asNobody()
	if line := oneLine(t, r); r.code != 6 || !strings.Contains(line, "permission denied") || r.stdout != "" {
		t.Errorf("uid 65534, data folder 0700: %v", r)
	}
	if err := os.Chmod(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r = asNobody()
	if line := oneLine(t, r); r.code != 6 || !strings.Contains(line, "permission denied") {
		t.Errorf("uid 65534, socket 0600: %v", r)
	}
	// Opened to everyone, the socket still refuses: the kernel names the
	// peer, and the daemon answers 403 forbidden_peer.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	r = asNobody()
	if line := oneLine(t, r); r.code != 6 || !strings.Contains(line, "refusing uid 65534") || r.stdout != "" {
		t.Errorf("uid 65534, socket 0666: %v", r)
	}
	log, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(log), "status=403") || !strings.Contains(string(log), "peer_uid=65534") {
		t.Errorf("the refusal is not in the log:\n%s", log)
	}
	// The owner is served all along.
	if r := e.gpmd("status"); !strings.Contains(r.stdout, "gpmd is running") {
		t.Fatalf("owner: %v", r)
	}
}

// nobodyBinary is a copy of gpmdBin, and of the gpmd-daemon beside it,
// that uid 65534 may run (TestMain's folder is 0700).
func nobodyBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gpmd-e2e-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gpmd", conf.DaemonProgram} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(gpmdBin), name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "gpmd")
}

// unixHTTP is an HTTP client over the Unix socket at path.
func unixHTTP(path string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}},
	}
}

// rawGet GETs path with the Host and Origin given (origin "": none) and
// returns the status and the error code of the answer ("" on success).
func rawGet(t *testing.T, hc *http.Client, host, origin, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+api.SocketHost+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %q): %v", path, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		return 200, ""
	}
	var eb api.ErrorBody
	json.Unmarshal(body, &eb)
	return resp.StatusCode, eb.Error
}
