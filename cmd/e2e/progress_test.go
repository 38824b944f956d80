package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestProgressOnTerminal: with standard error on a terminal (a pty), an
// upload of a known size over 8 MiB draws a bar that ends at 100%, and one
// from standard input (size unknown) that runs over half a second shows
// bytes and rate, without a bar or a percentage.
func TestProgressOnTerminal(t *testing.T) {
	e := newEnv(t)
	e.start()
	big := e.file("big.wasm", testutil.Wasm("big", 9<<20))
	out := uploadOnPTY(t, e, nil, "wasm", "upload", "--name", "big", "--version", "1.0.0", "--file", big)
	if !strings.Contains(out, "uploading big@1.0.0 [") || !strings.Contains(out, "100%") || !strings.Contains(out, "9 MiB / 9 MiB") {
		t.Errorf("known size: %q", tail(out))
	}

	// Standard input, 2 MiB over about a second.
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		data := testutil.Wasm("slow", 2<<20)
		for off := 0; off < len(data); off += 128 << 10 {
			if _, err := pw.Write(data[off:min(off+128<<10, len(data))]); err != nil {
				return
			}
			time.Sleep(70 * time.Millisecond)
		}
	}()
	out = uploadOnPTY(t, e, pr, "wasm", "upload", "--name", "slow", "--version", "1.0.0", "--file", "-")
	if !strings.Contains(out, "uploading slow@1.0.0 ") || !strings.Contains(out, "2 MiB") || !strings.Contains(out, "/s") ||
		strings.Contains(out, "%") || strings.Contains(out, "slow@1.0.0 [") {
		t.Errorf("standard input: %q", tail(out))
	}
}

// uploadOnPTY runs gpmd with its standard error on a new pty and returns
// what it wrote there; it must succeed.
func uploadOnPTY(t *testing.T, e *env, stdin io.Reader, args ...string) string {
	t.Helper()
	master, slave := openPTY(t)
	defer master.Close()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gpmdBin, args...)
	cmd.Env = e.environ()
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	read := make(chan string, 1)
	go func() {
		// Reading the master ends with EIO once the child closed the
		// slave's last descriptor.
		b, _ := io.ReadAll(master)
		read <- string(b)
	}()
	err := cmd.Wait()
	var got string
	select {
	case got = <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the pty did not close after the upload ended")
	}
	if err != nil || !strings.HasPrefix(stdout.String(), "Module Uploaded Successfully!") {
		t.Fatalf("gpmd %v: %v\nstdout %q\npty %q", args, err, stdout.String(), tail(got))
	}
	return got
}

// openPTY opens a new pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatalf("opening the pty's slave: %v", err)
	}
	return m, s
}

// tail is the end of a long output, for messages.
func tail(s string) string {
	if len(s) > 600 {
		return "…" + s[len(s)-600:]
	}
	return s
}
