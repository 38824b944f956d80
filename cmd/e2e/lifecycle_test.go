package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestLifecycle drives a person's first session: start, upload, list,
// get, status, rm, kill.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	if !e.running() {
		t.Fatal("start returned but no daemon holds the data folder")
	}
	for _, f := range []string{conf.PIDFile, conf.StateFile, conf.LockFile, conf.LogFile} {
		if _, err := os.Stat(filepath.Join(e.dir, f)); err != nil {
			t.Errorf("data folder lacks %s: %v", f, err)
		}
	}

	// Upload from a file, as the Ghost Network docs show.
	tiny := e.file("tiny.wasm", testutil.TinyWasm)
	r := e.gpmd("wasm", "upload", "--name=tiny", "--version=v0.0.1", "--file="+tiny)
	if want := "Module Uploaded Successfully!\ntiny@v0.0.1 " + testutil.TinyDigest + "\n"; r.stdout != want {
		t.Fatalf("upload printed %q, want %q", r.stdout, want)
	}
	// Upload from standard input.
	big := testutil.Wasm("v2", 100<<10)
	r = e.run(big, "wasm", "upload", "--name", "tiny", "--version", "0.2.0", "--file", "-")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Module Uploaded Successfully!\ntiny@0.2.0 sha256:") {
		t.Fatalf("upload from stdin: %v", r)
	}
	e.gpmd("wasm", "upload", "--name", "other_mod", "--version", "1.0.0-rc.1", "--file", tiny)

	// list: table and JSON.
	r = e.gpmd("wasm", "list")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.HasPrefix(lines[1], "other_mod") || !strings.Contains(lines[2], "0.2.0") || !strings.Contains(lines[3], "v0.0.1") ||
		!strings.Contains(lines[3], "sha256:93a44bbb96c7 ") || !strings.Contains(lines[3], "8 B") {
		t.Fatalf("list table:\n%s", r.stdout)
	}
	mods := e.listJSON()
	if len(mods) != 2 || mods[1].Name != "tiny" || len(mods[1].Versions) != 2 || mods[1].Versions[1].Digest.String() != testutil.TinyDigest {
		t.Fatalf("list -o json: %+v", mods)
	}
	r = e.gpmd("wasm", "list", "tiny")
	if strings.Contains(r.stdout, "other_mod") || strings.Count(r.stdout, "tiny") != 2 {
		t.Fatalf("list tiny:\n%s", r.stdout)
	}

	// get: to a file, to stdout, by latest, exact version and constraint.
	out := filepath.Join(t.TempDir(), "got.wasm")
	r = e.gpmd("wasm", "get", "tiny@v0.0.1", "-o", out)
	if got, _ := os.ReadFile(out); !bytes.Equal(got, testutil.TinyWasm) {
		t.Fatalf("get -o wrote %x", got)
	}
	if !strings.Contains(r.stdout, "tiny@v0.0.1 "+testutil.TinyDigest) {
		t.Errorf("get -o printed %q", r.stdout)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.part")); len(leftovers) > 0 {
		t.Errorf("get left temporary files: %v", leftovers)
	}
	for ref, want := range map[string][]byte{
		"tiny":                big,
		"tiny@latest":         big,
		"tiny@0.0.1":          testutil.TinyWasm, // semver equality: v0.0.1 == 0.0.1
		"tiny@^0.0":           testutil.TinyWasm,
		"tiny@>=0.1.0 <1.0.0": big,
		"other_mod":           testutil.TinyWasm, // pre-releases only: the highest
	} {
		r = e.gpmd("wasm", "get", ref)
		if !bytes.Equal([]byte(r.stdout), want) {
			t.Errorf("get %s: %d bytes, want %d", ref, len(r.stdout), len(want))
		}
	}

	// status: text and JSON.
	r = e.gpmd("status")
	for _, want := range []string{"gpmd is running", fmt.Sprintf("pid:          %d", st.PID), st.ControlAddr, st.GMPAddr, e.dir, "modules:      2 (3 versions)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	var s api.Status
	if err := json.Unmarshal([]byte(e.gpmd("status", "-o", "json").stdout), &s); err != nil {
		t.Fatal(err)
	}
	if !s.Running || s.PID != st.PID || s.Modules != 2 || s.Versions != 3 || s.Blobs != 2 || s.BlobBytes != int64(len(testutil.TinyWasm)+len(big)) ||
		s.ControlAddr != st.ControlAddr || s.GMPAddr != st.GMPAddr || s.DataDir != e.dir || s.Version == "" {
		t.Errorf("status -o json: %+v", s)
	}

	// rm: one version goes, its blob stays for the version that shares it.
	r = e.gpmd("wasm", "rm", "tiny@v0.0.1")
	if r.stdout != "Removed tiny@v0.0.1 "+testutil.TinyDigest+"\n" {
		t.Errorf("rm printed %q", r.stdout)
	}
	r = e.run(nil, "wasm", "get", "tiny@v0.0.1")
	if r.code != 4 {
		t.Errorf("get after rm: %v", r)
	}
	if got := e.gpmd("wasm", "get", "other_mod").stdout; got != string(testutil.TinyWasm) {
		t.Errorf("other_mod lost its bytes when tiny@v0.0.1 (same blob) was removed")
	}

	// The log has one line per request.
	logData, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(logData), "method=DELETE path=/v1/modules/tiny/v0.0.1 status=200") {
		t.Errorf("log lacks the rm request line:\n%s", logData)
	}

	// kill: graceful, files gone, then status says not running.
	r = e.gpmd("kill")
	if r.stdout != "gpmd stopped\n" {
		t.Errorf("kill printed %q", r.stdout)
	}
	if e.running() {
		t.Fatal("daemon still holds the data folder after kill")
	}
	for _, f := range []string{conf.PIDFile, conf.StateFile} {
		if _, err := os.Stat(filepath.Join(e.dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s still there after kill (%v)", f, err)
		}
	}
	// The state file is gone, so status calls the address it is given: a
	// port of this test's own, so that a gpmd on this machine's default
	// port cannot answer. (TestClientDefaultAddress in cmd/cli checks that
	// the default is 127.0.0.1:1111 without needing that port free.)
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r = e.run(nil, "--control-addr", down, "status")
	if r.code != 3 || !strings.Contains(oneLine(t, r), "gpmd is not running at "+down+" (start it with: gpmd start)") {
		t.Errorf("status after kill: %v", r)
	}
	r = e.run(nil, "kill")
	if r.code != 3 || !strings.Contains(oneLine(t, r), "gpmd is not running on "+e.dir) {
		t.Errorf("second kill: %v", r)
	}
}

// TestRestartKeepsEverything: what was uploaded is there after kill and
// start, byte for byte.
func TestRestartKeepsEverything(t *testing.T) {
	e := newEnv(t)
	e.start()
	mods := map[string][]byte{
		"alpha@1.0.0": testutil.Wasm("a1", 3000),
		"alpha@1.1.0": testutil.Wasm("a2", 5000),
		"beta@v0.0.1": testutil.TinyWasm,
	}
	for ref, data := range mods {
		name, version, _ := strings.Cut(ref, "@")
		e.gpmd("wasm", "upload", "--name", name, "--version", version, "--file", e.file(name+version+".wasm", data))
	}
	before := e.listJSON()
	e.gpmd("kill")

	st := e.start()
	after := e.listJSON()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("list changed across a restart:\nbefore %+v\nafter  %+v", before, after)
	}
	for ref, data := range mods {
		if got := e.gpmd("wasm", "get", ref).stdout; got != string(data) {
			t.Errorf("%s: bytes changed across a restart", ref)
		}
	}
	if pid, _, _ := conf.Probe(e.dir); pid != st.PID {
		t.Errorf("lock names pid %d, state %d", pid, st.PID)
	}
}

// TestSecondStartFails: a second daemon on the same data folder refuses,
// naming the pid of the first, which keeps serving.
func TestSecondStartFails(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	r := e.run(nil, append([]string{"start"}, portZero...)...)
	if r.code == 0 {
		t.Fatalf("second start succeeded: %v", r)
	}
	want := fmt.Sprintf("gpmd is already running (pid %d) on %s", st.PID, e.dir)
	if got := oneLine(t, r); got != want {
		t.Fatalf("second start said %q, want %q", got, want)
	}
	// The foreground mode refuses the same way.
	r = e.run(nil, append([]string{"start", "-nd"}, portZero...)...)
	if r.code == 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("second start -nd: %v", r)
	}
	e.gpmd("status")
	if got, _ := conf.ReadState(e.dir); got.PID != st.PID {
		t.Fatalf("state file now names pid %d, want %d", got.PID, st.PID)
	}
}

// TestStoppingLeavesANewerDaemonsFiles: the data folder is removed and
// made again under a running daemon, and a second daemon starts on it. When
// the first one stops, it leaves the second one's socket, state and pid
// files alone, so clients still find the second one.
func TestStoppingLeavesANewerDaemonsFiles(t *testing.T) {
	e := newEnv(t)
	first := e.start()
	if err := os.RemoveAll(e.dir); err != nil {
		t.Fatal(err)
	}
	second := e.start()
	if err := syscall.Kill(first.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for syscall.Kill(first.PID, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the first daemon (pid %d) did not stop within 15s of SIGTERM", first.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{conf.SocketFile, conf.StateFile, conf.PIDFile} {
		if _, err := os.Lstat(filepath.Join(e.dir, name)); err != nil {
			t.Errorf("the second daemon's %s after the first one stopped: %v", name, err)
		}
	}
	if got, err := conf.ReadState(e.dir); err != nil || got.PID != second.PID {
		t.Fatalf("state file names pid %d (%v), want the second daemon's %d", got.PID, err, second.PID)
	}
	var st api.Info
	e.jsonOf(&st, "status", "-o", "json")
	if st.PID != second.PID {
		t.Fatalf("gpmd status reached pid %d, want the second daemon's %d", st.PID, second.PID)
	}
}

// TestStartFailuresLeaveNothing: a port taken, a data folder that is a
// file: one line, non-zero, and no daemon left.
func TestStartFailuresLeaveNothing(t *testing.T) {
	t.Run("control port taken", func(t *testing.T) {
		e := newEnv(t)
		l := listenLoopback(t)
		r := e.run(nil, "start", "--control-addr", l, "--gmp-addr", "127.0.0.1:0")
		if r.code == 0 || !strings.Contains(oneLine(t, r), "control address "+l+" is already in use") {
			t.Fatalf("%v", r)
		}
		e.assertNoDaemon()
	})
	t.Run("gmp port taken", func(t *testing.T) {
		e := newEnv(t)
		l := listenLoopback(t)
		r := e.run(nil, "start", "--control-addr", "127.0.0.1:0", "--gmp-addr", l)
		if r.code == 0 || !strings.Contains(oneLine(t, r), "GMP address "+l+" is already in use") {
			t.Fatalf("%v", r)
		}
		e.assertNoDaemon()
	})
	t.Run("data folder is a file", func(t *testing.T) {
		e := newEnv(t)
		if err := os.WriteFile(e.dir, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.run(nil, append([]string{"start"}, portZero...)...)
		if r.code == 0 || !strings.Contains(oneLine(t, r), e.dir) {
			t.Fatalf("%v", r)
		}
	})
	t.Run("module store held by another process", func(t *testing.T) {
		// Another daemon's data folder cannot be shared through its
		// modules folder either: the index lock refuses it.
		a := newEnv(t)
		a.start()
		b := newEnv(t)
		if err := os.MkdirAll(b.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(a.dir, conf.ModulesDir), filepath.Join(b.dir, conf.ModulesDir)); err != nil {
			t.Fatal(err)
		}
		r := b.run(nil, append([]string{"start"}, portZero...)...)
		if r.code == 0 || !strings.Contains(oneLine(t, r), "in use by another process") {
			t.Fatalf("%v", r)
		}
		b.assertNoDaemon()
		a.gpmd("status")
	})
}

// assertNoDaemon: no daemon holds the folder, no pid or state file.
func (e *env) assertNoDaemon() {
	e.t.Helper()
	if e.running() {
		e.t.Fatal("a daemon holds the data folder after a failed start")
	}
	for _, f := range []string{conf.PIDFile, conf.StateFile} {
		if _, err := os.Stat(filepath.Join(e.dir, f)); !os.IsNotExist(err) {
			e.t.Errorf("%s exists after a failed start (%v)", f, err)
		}
	}
}

// TestKillWaitsForInFlight: kill lets an upload in flight finish; the
// daemon exits after it, and the upload is there after a restart.
func TestKillWaitsForInFlight(t *testing.T) {
	e := newEnv(t)
	e.start()
	mod := testutil.Wasm("slow", 4<<20)
	up := gpmdCmd(e, "wasm", "upload", "--name", "slow", "--version", "1.0.0", "--file", "-")
	stdin, err := up.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var upOut bytes.Buffer
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Wait() }()
	t.Cleanup(func() { up.Process.Kill() })
	// Past the first MiB, which the store keeps in memory, so that an
	// ingest file shows the upload has reached the daemon.
	if _, err := stdin.Write(mod[:3<<20]); err != nil {
		t.Fatal(err)
	}
	// Wait until the daemon has the request (the log names it only at
	// the end, so look for its temporary file in ingest/ instead).
	if !testutil.Eventually(10*time.Second, func() bool {
		ents, _ := os.ReadDir(filepath.Join(e.dir, "modules", "ingest"))
		return len(ents) > 0
	}) {
		t.Fatal("the upload never reached the daemon")
	}

	kill := gpmdCmd(e, "kill")
	var killOut bytes.Buffer
	kill.Stdout, kill.Stderr = &killOut, &killOut
	if err := kill.Start(); err != nil {
		t.Fatal(err)
	}
	killDone := make(chan error, 1)
	go func() { killDone <- kill.Wait() }()
	t.Cleanup(func() { kill.Process.Kill() })
	time.Sleep(300 * time.Millisecond)
	if !e.running() {
		t.Fatal("the daemon exited with an upload in flight")
	}
	if _, err := stdin.Write(mod[3<<20:]); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	select {
	case err := <-upDone:
		if err != nil || !strings.Contains(upOut.String(), "Module Uploaded Successfully!") {
			t.Fatalf("upload during kill: %v\n%s", err, upOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("upload did not finish")
	}
	select {
	case err := <-killDone:
		if err != nil || killOut.String() != "gpmd stopped\n" {
			t.Fatalf("kill: %v %q", err, killOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kill did not return")
	}
	e.start()
	if got := e.gpmd("wasm", "get", "slow").stdout; got != string(mod) {
		t.Fatal("the upload acknowledged during the stop is not there")
	}
}

// TestKillByControlAddr: kill with a data folder where nothing runs and
// --control-addr of a daemon elsewhere stops that daemon.
func TestKillByControlAddr(t *testing.T) {
	a := newEnv(t)
	st := a.start()
	b := newEnv(t)
	r := b.run(nil, "kill", "--control-addr", st.ControlAddr)
	if r.code != 0 || r.stdout != "gpmd stopped\n" {
		t.Fatalf("%v", r)
	}
	if a.running() {
		t.Fatal("the daemon still runs")
	}
}

// TestStartPassesEverySetting: every daemon setting given to `gpmd start`
// (background) reaches the daemon. Each is set to a value that is not its
// default, and read back from the "settings" line the daemon logs at start
// and, where the daemon reports it, from `gpmd status -o json`. A setting
// added to conf.Settings() without a value here fails the test.
func TestStartPassesEverySetting(t *testing.T) {
	e := newEnv(t)
	token := e.secret("token", []byte("e2e-settings-token\n"))
	given := map[string]string{
		"data-dir":              e.dir,
		"control-addr":          "127.0.0.1:0",
		"token-file":            token,
		"gmp-addr":              "127.0.0.1:0",
		"max-module-size":       "3MiB",
		"gmp-max-message":       "2MiB",
		"gmp-max-conns":         "77",
		"gmp-message-timeout":   "7s",
		"gmp-write-timeout":     "9s",
		"gmp-reply-timeout":     "3m",
		"gmp-max-rejecting":     "5",
		"events-queue":          "2048",
		"events-history":        "5000",
		"control-stall-timeout": "13s",
		"control-max-uploads":   "5",
		"control-max-conns":     "66",
		"shutdown-timeout":      "11s",
		"log-format":            "json",
		"log-max-size":          "5MiB",
		"log-keep":              "3",
		// An upstream that does not answer: the daemon starts anyway.
		"registry":                  fmt.Sprintf("127.0.0.1:%d/fleet", freePort(t)),
		"registry-config":           e.file("registry-config.json", []byte(`{"auths":{}}`)),
		"registry-dial-timeout":     "3s",
		"registry-response-timeout": "4s",
		"registry-tag-cache":        "5s",
		// A fleet whose server is never there: the daemon starts without
		// waiting for it. The files only have to exist.
		"fleet":            "nats://127.0.0.1:1",
		"device":           "settings-dev",
		"advertise":        "127.0.0.9",
		"fleet-token-file": e.file("nats-token", []byte("t\n")),
		"fleet-creds":      e.file("nats.creds", []byte("junk")),
		"fleet-tls-ca":     e.file("ca.pem", []byte("junk")),
		"fleet-tls-cert":   e.file("cert.pem", []byte("junk")),
		"fleet-tls-key":    e.file("key.pem", []byte("junk")),
		"fleet-expiry":     "7s",
	}
	args := []string{"start"}
	want := map[string]string{}
	defaults := conf.DefaultConfig()
	for _, s := range conf.Settings() {
		v, ok := given[s.Flag]
		if !ok {
			t.Fatalf("setting --%s has no value in this test: add one that is not its default", s.Flag)
		}
		cfg := conf.DefaultConfig()
		if err := s.Set(&cfg, v); err != nil {
			t.Fatalf("--%s %s: %v", s.Flag, v, err)
		}
		if s.Get(&cfg) == s.Get(&defaults) {
			t.Fatalf("--%s %s is its default: it proves nothing", s.Flag, v)
		}
		want[s.Flag] = s.Get(&cfg)
		args = append(args, "--"+s.Flag, v)
	}
	r := e.run(nil, args...)
	if r.code != 0 {
		t.Fatalf("%v", r)
	}
	st, err := conf.ReadState(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := os.ReadFile(st.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	// --log-format json: the settings line is a JSON object.
	var line map[string]any
	for l := range strings.Lines(string(log)) {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) != nil {
			t.Fatalf("a log line that is not JSON under --log-format json: %q", l)
		}
		if m["msg"] == "settings" {
			line = m
		}
	}
	if line == nil {
		t.Fatalf("no settings line in the log:\n%s", log)
	}
	for flag, v := range want {
		if line[flag] != v {
			t.Errorf("--%s %s did not reach the daemon: %v", flag, v, line[flag])
		}
	}
	// The client commands find the daemon and its token through the state
	// file, and status reports the limit the repository was given.
	var status struct {
		MaxModuleSize int64 `json:"max_module_size"`
	}
	e.jsonOf(&status, "status", "-o", "json")
	if status.MaxModuleSize != 3<<20 {
		t.Errorf("status max_module_size %d, want %d", status.MaxModuleSize, 3<<20)
	}
	if st.TokenFile != token {
		t.Errorf("state token_file %q, want %q", st.TokenFile, token)
	}
}
