package e2e

// Issue 16's daemon and CLI points, each reproduced against the real
// binary: kill and a planted lock (5a), a foreign state file (5b), a
// closed stderr pipe (11), get -o into special and private files (12),
// token file modes, backup modes and GMP off loopback (20), a backup
// target of another user (4).

import (
	"bytes"
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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
	"golang.org/x/sys/unix"
)

// nobody is the uid (and gid) files of "another user" are given.
const nobody = 65534

// fakeDaemon is an HTTP server on loopback that claims to be a gpmd: its
// status names dataDir, and it records the Authorization headers it gets.
type fakeDaemon struct {
	addr string
	mu   sync.Mutex
	auth []string
}

func newFakeDaemon(t *testing.T, dataDir string) *fakeDaemon {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDaemon{addr: l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"running": true, "pid": 1, "data_dir": dataDir, "control_addr": f.addr, "gmp_addr": "127.0.0.1:1", "version": "fake"})
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fakeDaemon) authorizations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

// TestKillVerifiesTheHolder (issue 16, point 5a): a fake listener claims
// a data folder whose lock is held (by this test) and names a victim's pid
// in the lock and state files; `gpmd kill --control-addr <fake>` refuses
// in one line and the victim lives. Before, kill sent it SIGTERM.
func TestKillVerifiesTheHolder(t *testing.T) {
	e := newEnv(t)
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { victim.Wait(); close(exited) }()
	t.Cleanup(func() { victim.Process.Kill(); <-exited })
	pid := victim.Process.Pid

	planted := filepath.Join(t.TempDir(), "planted")
	if err := os.Mkdir(planted, 0o700); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(planted, conf.LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	lf.WriteString(strconv.Itoa(pid) + "\n")
	state, _ := json.Marshal(map[string]any{"pid": pid, "data_dir": planted})
	if err := os.WriteFile(filepath.Join(planted, conf.StateFile), state, 0o600); err != nil {
		t.Fatal(err)
	}
	fake := newFakeDaemon(t, planted)

	for _, args := range [][]string{
		{"--control-addr", fake.addr, "kill", "--timeout", "2s"},
		{"--data-dir", planted, "kill", "--timeout", "2s"},
	} {
		r := e.run(nil, args...)
		line := oneLine(t, r)
		if r.code == 0 || !strings.Contains(line, "refusing to signal pid "+strconv.Itoa(pid)) {
			t.Errorf("%v", r)
		}
	}
	select {
	case <-exited:
		t.Fatalf("gpmd kill killed the victim (pid %d)", pid)
	case <-time.After(300 * time.Millisecond):
	}

	// A real daemon is still stopped by kill.
	e.start()
	if r := e.gpmd("kill"); r.stdout != "gpmd stopped\n" {
		t.Errorf("%v", r)
	}
}

// TestForeignStateFileIgnored (issue 16, point 5b): a state file that
// belongs to another user, naming their listener and root's private token
// file, is ignored with a line that says so: the CLI sends no token there.
func TestForeignStateFileIgnored(t *testing.T) {
	e := newEnv(t)
	secret := e.secret("root-token", []byte("root-only-secret\n"))
	fake := newFakeDaemon(t, e.dir)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stPath := filepath.Join(e.dir, conf.StateFile)
	state, _ := json.Marshal(map[string]any{"pid": 1, "control_addr": fake.addr, "token_file": secret, "data_dir": e.dir})
	if err := os.WriteFile(stPath, state, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(stPath, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	r := e.run(nil, "--control-addr", fake.addr, "status")
	if !strings.Contains(r.stderr, "ignoring the state file") || !strings.Contains(r.stderr, "uid 65534") {
		t.Errorf("the CLI did not say it ignores the state file: %v", r)
	}
	for _, a := range fake.authorizations() {
		if strings.Contains(a, "root-only-secret") {
			t.Fatalf("the CLI sent root's token to the listener a foreign state file named: %q", a)
		}
	}
	// A state file writable by others is ignored too.
	os.Chown(stPath, 0, 0)
	os.Chmod(stPath, 0o666)
	r = e.run(nil, "--control-addr", fake.addr, "status")
	if !strings.Contains(r.stderr, "writable by other users") {
		t.Errorf("%v", r)
	}
	for _, a := range fake.authorizations() {
		if strings.Contains(a, "root-only-secret") {
			t.Fatalf("the CLI sent root's token: %q", a)
		}
	}
}

// TestForegroundSurvivesClosedStderr (issue 16, point 11): `gpmd start
// -nd 2>&1 | head -c 300`: once the pipe's reader is gone, the daemon's
// writes to stderr fail, and it keeps serving (before, SIGPIPE killed it).
func TestForegroundSurvivesClosedStderr(t *testing.T) {
	e := newEnv(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gpmdBin, append([]string{"start", "-nd"}, portZero...)...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	// head -c 300: read a little, then go away.
	buf := make([]byte, 300)
	io.ReadAtLeast(pr, buf, 1)
	testutil.WaitFor(t, 15*time.Second, "the daemon to be ready", func() bool {
		_, err := conf.ReadState(e.dir)
		return err == nil
	})
	pr.Close()

	for i := range 5 {
		r := e.run(nil, "status")
		if r.code != 0 {
			t.Fatalf("status %d after the stderr pipe closed: %v", i, r)
		}
	}
	select {
	case err := <-exited:
		t.Fatalf("the daemon died after its stderr pipe closed: %v", err)
	default:
	}
	if !e.running() {
		t.Fatal("the daemon no longer holds its data folder")
	}
}

// TestGetOutputKeepsFiles (issue 16, point 12): `wasm get -o PATH` writes
// into an existing special file (a char device stays one, a FIFO's reader
// gets the bytes) and keeps an existing file's mode.
func TestGetOutputKeepsFiles(t *testing.T) {
	e := newEnv(t)
	e.start()
	mod := testutil.Wasm("keep", 70<<10)
	e.upload("keep", "1.0.0", mod)
	dir := t.TempDir()

	// A device node: a private null device (as root, -o /dev/null used
	// to turn the machine's /dev/null into a regular file).
	dev := filepath.Join(dir, "null")
	if err := unix.Mknod(dev, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Logf("mknod: %v; using /dev/null", err)
		dev = "/dev/null"
	}
	for _, p := range []string{dev, "/dev/null"} {
		e.gpmd("wasm", "get", "keep@1.0.0", "-o", p)
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Fatalf("%s after get: %v %v, want a char device", p, fi.Mode(), err)
		}
	}

	// A private file stays private.
	priv := filepath.Join(dir, "private.wasm")
	if err := os.WriteFile(priv, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.gpmd("wasm", "get", "keep@1.0.0", "-o", priv)
	fi, _ := os.Stat(priv)
	got, _ := os.ReadFile(priv)
	if fi.Mode().Perm() != 0o600 || !bytes.Equal(got, mod) {
		t.Errorf("%s: mode %v, %d bytes; want 0600 and the module", priv, fi.Mode().Perm(), len(got))
	}

	// A FIFO with a reader gets the bytes and stays a FIFO.
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	read := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			read <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		read <- b
	}()
	e.gpmd("wasm", "get", "keep@1.0.0", "-o", fifo)
	select {
	case b := <-read:
		if !bytes.Equal(b, mod) {
			t.Errorf("the FIFO's reader got %d bytes, want the module's %d", len(b), len(mod))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the FIFO's reader got nothing")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("%s after get: %v %v, want a FIFO", fifo, fi.Mode(), err)
	}
}

// TestTokenFileModes (issue 16, point 20): a token file others may read
// is refused at start and by the client, in one line that says chmod 600.
func TestTokenFileModes(t *testing.T) {
	e := newEnv(t)
	open := e.file("token", []byte("readable-by-all\n")) // 0644
	for _, args := range [][]string{
		append([]string{"start", "--token-file", open}, portZero...),
		append([]string{"start", "-nd", "--token-file", open}, portZero...),
		{"--token-file", open, "--control-addr", "127.0.0.1:" + strconv.Itoa(freePort(t)), "status"},
	} {
		r := e.run(nil, args...)
		if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, "chmod 600 "+open) {
			t.Errorf("%v", r)
		}
	}
	e.assertNoDaemon()
	// A token file of another user is refused too.
	other := e.secret("other", []byte("someone-else\n"))
	os.Chown(other, nobody, nobody)
	r := e.run(nil, append([]string{"start", "--token-file", other}, portZero...)...)
	if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, "uid 65534") {
		t.Errorf("%v", r)
	}
}

// TestGMPOffLoopbackWarns (issue 16, point 20): --gmp-addr off loopback
// binds, with a warning in the log at start and a line in `gpmd status`
// (GMP has no authentication). No traffic leaves loopback: the test only
// binds.
func TestGMPOffLoopbackWarns(t *testing.T) {
	e := newEnv(t)
	r := e.run(nil, "start", "--control-addr", "127.0.0.1:0", "--gmp-addr", "0.0.0.0:0")
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	st, err := conf.ReadState(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(st.LogFile)
	if !strings.Contains(string(log), "GMP listens off loopback and has no authentication") {
		t.Errorf("no warning in the log:\n%s", log)
	}
	if out := e.gpmd("status").stdout; !strings.Contains(out, "warning:") || !strings.Contains(out, "no authentication") {
		t.Errorf("status has no warning:\n%s", out)
	}
	// On loopback: no warning.
	l := newEnv(t)
	l.start()
	if out := l.gpmd("status").stdout; strings.Contains(out, "warning:") {
		t.Errorf("status warns on loopback:\n%s", out)
	}
}

// TestBackupTargetAndModes (issue 16, points 4 and 20): a backup target
// that belongs to another user (or is a symlink) is refused and left
// untouched; a backup's files are private (0600, blobs 0400, folders 0700).
func TestBackupTargetAndModes(t *testing.T) {
	e := newEnv(t)
	e.start()
	mod := testutil.Wasm("bk", 4096)
	e.upload("bk", "1.0.0", mod)

	foreign := filepath.Join(t.TempDir(), "foreign")
	if err := os.Mkdir(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(foreign, 0o777)
	if err := os.Chown(foreign, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	r := e.run(nil, "backup", "--to", foreign)
	if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, "belongs to uid 65534") {
		t.Errorf("%v", r)
	}
	if ents, _ := os.ReadDir(foreign); len(ents) != 0 {
		t.Errorf("the refused target holds %d entries", len(ents))
	}
	link := filepath.Join(t.TempDir(), "link")
	mine := t.TempDir()
	os.Symlink(mine, link)
	r = e.run(nil, "backup", "--to", link)
	if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, "symlink") {
		t.Errorf("%v", r)
	}

	to := filepath.Join(t.TempDir(), "bk")
	e.gpmd("backup", "--to", to)
	err := filepath.Walk(to, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		switch {
		case fi.IsDir():
			want = 0o700
		case strings.Contains(p, "blobs"):
			want = 0o400
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The backup restores.
	e.gpmd("kill")
	e2 := newEnv(t)
	e2.gpmd("restore", "--from", to)
	e2.start()
	e2.mustGet("bk", "1.0.0", mod)
}
