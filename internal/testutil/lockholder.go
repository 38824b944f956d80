package testutil

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lockHolderEnv, when set to a path, turns a test binary into the lock
// holder of that path (see HoldLockIfAsked).
const lockHolderEnv = "GPMD_TEST_HOLD_LOCK"

// lockHolderLife bounds a holder whose parent died without closing its stdin.
const lockHolderLife = time.Minute

// HoldLockIfAsked belongs at the top of TestMain in a package whose tests
// call StartLockHolder. In the process StartLockHolder starts, it calls
// hold(path), prints "ready", keeps what hold opened until its stdin closes
// (at most a minute), closes it and exits; in any other process it returns
// at once. bbolt's flock is per process, so only a second process proves
// that a store in use is refused.
func HoldLockIfAsked(hold func(path string) (io.Closer, error)) {
	path := os.Getenv(lockHolderEnv)
	if path == "" {
		return
	}
	c, err := hold(path)
	if err != nil {
		fmt.Println("hold:", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	code := 0
	select {
	case <-done:
	case <-time.After(lockHolderLife):
		code = 3
	}
	if err := c.Close(); err != nil && code == 0 {
		fmt.Println("close:", err)
		code = 2
	}
	os.Exit(code)
}

// StartLockHolder starts this test binary again as a second process that
// holds path (through the hold func its TestMain gives HoldLockIfAsked),
// waits up to 30 s until it says it holds it, and returns release, which
// lets it go and waits for it to exit (failing the test if it failed).
// A holder the test did not release is killed at cleanup.
func StartLockHolder(t testing.TB, path string) (release func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("lock holder: %v", err)
		}
	}
	t.Cleanup(func() {
		if !released {
			_ = cmd.Process.Kill()
			released = true
			_ = cmd.Wait()
		}
	})
	select {
	case s := <-line:
		if strings.TrimSpace(s) != "ready" {
			t.Fatalf("lock holder said %q", s)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lock holder did not start within 30s")
	}
	return release
}
