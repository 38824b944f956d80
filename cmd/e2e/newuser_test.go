package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestNewUserTrips: what a new user tripped on (issue 14), each against
// the real binary.
func TestNewUserTrips(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	tiny := e.file("tiny.wasm", testutil.TinyWasm)

	t.Run("name names the character", func(t *testing.T) {
		r := e.run(nil, "wasm", "upload", "--name", "mäth", "--version", "1.0.0", "--file", tiny)
		line := oneLine(t, r)
		if r.code != 2 || !strings.Contains(line, "'ä'") || strings.Contains(line, "'Ã'") {
			t.Errorf("exit %d: %s", r.code, line)
		}
	})

	t.Run("completion of an unknown shell", func(t *testing.T) {
		r := e.run(nil, "completion", "tcsh")
		line := oneLine(t, r)
		if r.code != 2 || r.stdout != "" || !strings.Contains(line, `"tcsh"`) {
			t.Errorf("completion tcsh: %v", r)
		}
		if r := e.gpmd("completion", "bash"); !strings.Contains(r.stdout, "bash completion") {
			t.Errorf("completion bash: %.200s", r.stdout)
		}
	})

	t.Run("--version", func(t *testing.T) {
		r := e.gpmd("--version")
		if want := e.gpmd("version").stdout; r.stdout != want || !strings.HasPrefix(want, "gpmd ") {
			t.Errorf("--version %q, version %q", r.stdout, want)
		}
	})

	t.Run("GPMD_CONTROL_ADDR with port 0", func(t *testing.T) {
		pe := *e
		pe.t = t
		pe.vars = append(append([]string{}, e.vars...), "GPMD_CONTROL_ADDR=127.0.0.1:0")
		if r := pe.gpmd("status"); !strings.Contains(r.stdout, "gpmd is running") {
			t.Fatalf("over the socket: %v", r)
		}
		// Without the socket, the recorded TCP address is found.
		sock := filepath.Join(e.dir, conf.SocketFile)
		aside := sock + ".aside"
		if err := os.Rename(sock, aside); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(aside, sock)
		if r := pe.gpmd("status"); !strings.Contains(r.stdout, "control:      "+st.ControlAddr) {
			t.Fatalf("over TCP: %v", r)
		}
	})

	mod := testutil.Wasm("math", 300)
	e.gpmd("wasm", "upload", "--name", "math", "--version", "v1.2.0", "--file", e.file("math.wasm", mod))

	t.Run("get -o DIR", func(t *testing.T) {
		dir := t.TempDir()
		r := e.gpmd("wasm", "get", "math", "-o", dir)
		want := filepath.Join(dir, "math-v1.2.0.wasm")
		got, err := os.ReadFile(want)
		if err != nil || !bytes.Equal(got, mod) {
			t.Fatalf("%s: %v (%d bytes)", want, err, len(got))
		}
		if !strings.Contains(r.stdout, "saved to "+want) {
			t.Errorf("stdout %q", r.stdout)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("left in %s: %v", dir, entries)
		}
		// A FILE that cannot be made: the message names FILE, never the
		// temporary file beside it.
		bad := filepath.Join(dir, "no-such-folder", "m.wasm")
		r = e.run(nil, "wasm", "get", "math", "-o", bad)
		if line := oneLine(t, r); r.code == 0 || !strings.Contains(line, bad) || strings.Contains(line, ".part") {
			t.Errorf("get -o %s: %v", bad, r)
		}
	})

	t.Run("get of a corrupt module", func(t *testing.T) {
		corrupt := testutil.Wasm("corr", 56)
		e.gpmd("wasm", "upload", "--name", "corr", "--version", "1.0.0", "--file", e.file("corr.wasm", corrupt))
		sum := sha256.Sum256(corrupt)
		blob := filepath.Join(e.dir, conf.ModulesDir, "blobs", "sha256", hexOf(sum[:]))
		testutil.FlipByte(t, blob, 40)
		out := filepath.Join(t.TempDir(), "corr.wasm")
		r := e.run(nil, "wasm", "get", "corr", "-o", out)
		line := oneLine(t, r)
		if r.code != 1 || !strings.Contains(line, "download of corr") || !strings.Contains(line, "failed") ||
			!strings.Contains(line, "nothing was written to "+out) || strings.Contains(line, "of 56 bytes") {
			t.Errorf("get -o: %v", r)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed download: %v", out, err)
		}
		r = e.run(nil, "wasm", "get", "corr")
		if line := oneLine(t, r); r.code != 1 || r.stdout != "" || !strings.Contains(line, "nothing was written to standard output") {
			t.Errorf("get to stdout: %v", r)
		}
	})
}

// TestRebuildIndexHealthy: on a healthy index rebuild-index says so and
// changes nothing; --force rebuilds it.
func TestRebuildIndexHealthy(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.gpmd("wasm", "upload", "--name", "math", "--version", "1.0.0", "--file", e.file("m.wasm", testutil.TinyWasm))
	e.gpmd("kill")
	idx := filepath.Join(e.dir, conf.ModulesDir, "index.db")
	before, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	fi0, _ := os.Stat(idx)
	r := e.gpmd("rebuild-index")
	if !strings.Contains(r.stdout, "healthy") || !strings.Contains(r.stdout, "1 version") {
		t.Errorf("rebuild-index on a healthy index: %v", r)
	}
	after, _ := os.ReadFile(idx)
	fi1, _ := os.Stat(idx)
	if !bytes.Equal(before, after) || !fi0.ModTime().Equal(fi1.ModTime()) {
		t.Error("rebuild-index changed a healthy index")
	}
	if m, _ := filepath.Glob(idx + ".damaged-*"); len(m) != 0 {
		t.Errorf("a healthy index was set aside: %v", m)
	}
	r = e.gpmd("rebuild-index", "--force")
	if !strings.Contains(r.stdout, "index rebuilt") {
		t.Errorf("rebuild-index --force: %v", r)
	}
	if m, _ := filepath.Glob(idx + ".damaged-*"); len(m) != 1 {
		t.Errorf("--force kept no old index aside: %v", m)
	}
}

// TestBadFlagValuesExit2: every bad flag value is a usage error: exit
// status 2, one line on stderr, nothing on stdout. No daemon is needed (and
// none may start).
func TestBadFlagValuesExit2(t *testing.T) {
	e := newEnv(t)
	wasm := e.file("m.wasm", testutil.TinyWasm)
	cases := [][]string{
		{"status", "-o", "yaml"},
		{"status", "--bogus"},
		{"wasm", "list", "-o", "xml"},
		{"nodes", "-o", "csv"},
		{"verify", "-o", "x"},
		{"gc", "-o", "x"},
		{"gc", "--dry-run=maybe"},
		{"kill", "--timeout", "soon"},
		{"kill", "--timeout", "-5s"},
		{"start", "--max-module-size", "lots"},
		{"start", "--max-module-size", "0"},
		{"start", "--max-module-size", "1.5MiB"},
		{"start", "--gmp-max-message", "-1"},
		{"start", "--gmp-max-conns", "many"},
		{"start", "--gmp-max-conns", "0"},
		{"start", "--gmp-message-timeout", "x"},
		{"start", "--gmp-write-timeout", "-1s"},
		{"start", "--control-stall-timeout", "0s"},
		{"start", "--control-max-uploads", "x"},
		{"start", "--control-max-conns", "0"},
		{"start", "--shutdown-timeout", "x"},
		{"start", "--wait", "-1s"},
		{"start", "--wait", "x"},
		{"start", "--control-addr", "nohostport"},
		{"start", "--control-addr", "127.0.0.1:99999"},
		{"start", "--gmp-addr", "nohost"},
		{"start", "--data-dir", ""},
		{"start", "--foreground=maybe"},
		{"--control-addr", "nohostport", "status"},
		{"--data-dir", "", "status"},
		{"wasm", "upload", "--name", "m", "--version", "1", "--file", wasm},
		{"wasm", "upload", "--name", "Bad", "--version", "1.0.0", "--file", wasm},
		{"wasm", "upload", "--name", "m", "--version", "1.0.0"},
		{"wasm", "get", "m@", "-o", filepath.Join(t.TempDir(), "x")},
		{"wasm", "get", "-o"},
		{"wasm", "rm", "m"},
		{"backup", "-o", "x", "--to", t.TempDir()},
		{"restore", "-o", "x", "--from", t.TempDir()},
		{"rebuild-index", "-o", "x"},
		{"rebuild-index", "--force=maybe"},
		{"import", "-o", "x", "--from", t.TempDir()},
		{"completion", "tcsh"},
		{"completion", "bash", "extra"},
		{"version", "extra"},
		{"wasm", "bogus"},
	}
	for _, args := range cases {
		r := e.run(nil, args...)
		if r.code != 2 || r.stdout != "" || strings.Count(strings.TrimSuffix(r.stderr, "\n"), "\n") != 0 || r.stderr == "" {
			t.Errorf("%v", r)
		}
	}
	if e.running() {
		t.Fatal("a bad flag started a daemon")
	}
}

// TestUploadOverLimitFromSlowPipe: an upload over the size limit, fed by a
// pipe that writes slowly, fails with the size message (exit 2), over the
// socket and over TCP, never with "connection reset by peer".
func TestUploadOverLimitFromSlowPipe(t *testing.T) {
	e := newEnv(t)
	st := e.start("--max-module-size", "64KiB")
	for _, via := range [][]string{nil, {"--control-addr", st.ControlAddr}} {
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		args := append(append([]string{}, via...), "wasm", "upload", "--name", "slow", "--version", "1.0.0", "--file", "-")
		cmd := exec.CommandContext(ctx, gpmdBin, args...)
		cmd.Env = e.environ()
		pr, pw := io.Pipe()
		cmd.Stdin = pr
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// 320 KiB, five times the limit, 8 KiB every 20 ms: the daemon
		// refuses long before the pipe ends.
		go func() {
			defer pw.Close()
			// One module of 320 KiB (its custom section claims it all,
			// so the upload's parse accepts every byte), sent in chunks.
			module := testutil.Wasm("slow", 40*8<<10)
			for i := 0; i < 40; i++ {
				chunk := module[i*8<<10 : (i+1)*8<<10]
				if _, err := pw.Write(chunk); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		err := cmd.Wait()
		pr.Close()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := errb.String()
		if code != 2 || !strings.Contains(msg, "too large") || !strings.Contains(msg, "64 KiB") ||
			strings.Contains(msg, "reset by peer") || strings.Contains(msg, "broken pipe") || strings.Count(msg, "\n") != 1 {
			t.Errorf("slow pipe over the limit (%v): exit %d, stderr %q", via, code, msg)
		}
	}
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
