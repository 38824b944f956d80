package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/daemon"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestCancelledUploadLogged: Ctrl-C on `gpmd wasm upload --file -` in the
// middle of the stream is logged by the daemon as a cancel (WARN), never as
// an ERROR with status 500, and the version is not stored.
func TestCancelledUploadLogged(t *testing.T) {
	e := newEnv(t)
	e.start()
	cmd := gpmdCmd(e, "wasm", "upload", "--name", "big", "--version", "v1.0.0", "--file", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	exited := startKilledAtEnd(t, cmd)
	// Part of a module, then the person presses Ctrl-C.
	mod := testutil.Wasm("big", 8<<20)
	if _, err := stdin.Write(mod[:2<<20]); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(e.dir, daemon.LogFile)
	time.Sleep(200 * time.Millisecond) // the bytes on their way to the daemon
	// Ctrl-C in a terminal stops the whole pipeline: gpmd first here,
	// then the program feeding it (its end of the pipe closes). gpmd
	// blocked reading standard input waits for that close to exit.
	cmd.Process.Signal(os.Interrupt)
	time.Sleep(500 * time.Millisecond)
	stdin.Close()
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("upload did not end within 15s of Ctrl-C")
	}

	var line string
	if !testutil.Eventually(10*time.Second, func() bool {
		data, _ := os.ReadFile(logPath)
		for l := range strings.Lines(string(data)) {
			if strings.Contains(l, "path=/v1/modules/big/v1.0.0") {
				line = l
				return true
			}
		}
		return false
	}) {
		data, _ := os.ReadFile(logPath)
		t.Fatalf("no log line for the cancelled upload (upload's stderr: %s):\n%s", stderr.String(), data)
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, `msg="upload cancelled by the client"`) {
		t.Errorf("the cancel is not logged as one: %s", line)
	}
	if strings.Contains(line, "level=ERROR") || strings.Contains(line, "status=500") {
		t.Errorf("a client's cancel logged as the daemon's failure: %s", line)
	}
	if mods := e.listJSON(); len(mods) != 0 {
		t.Errorf("modules after a cancelled upload: %+v", mods)
	}
}
