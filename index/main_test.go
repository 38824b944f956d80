package index

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lockHolderEnv, when set to a path, turns the test binary into a second
// process that opens the index at that path, adds a record, prints
// "ready" and holds the file until its stdin closes. bbolt's flock is per
// process, so only another process proves that Open refuses a store in
// use.
const lockHolderEnv = "GPMD_INDEX_TEST_HOLD_LOCK"

func TestMain(m *testing.M) {
	if path := os.Getenv(lockHolderEnv); path != "" {
		os.Exit(holdLock(path))
	}
	code := m.Run()
	closeBenchFixture()
	os.Exit(code)
}

func holdLock(path string) int {
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("open:", err)
		return 2
	}
	defer db.Close()
	if _, _, err := db.Add(Record{Name: "held", Version: "1.0.0", Digest: dg("held"), Size: 4}); err != nil {
		fmt.Println("add:", err)
		return 2
	}
	fmt.Println("ready")
	// Bounded: the parent closes stdin; if it dies, stop after a minute.
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		return 3
	}
	return 0
}

// StartLockHolder starts a second process holding the index at path and
// returns a function that releases it and waits for it to exit.
func startLockHolder(t *testing.T, path string) (release func()) {
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
			release()
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

func TestOpenLockedBySecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	release := startLockHolder(t, path)

	for _, opts := range []Options{{Timeout: 100 * time.Millisecond}, {Timeout: 100 * time.Millisecond, ReadOnly: true}, {}} {
		start := time.Now()
		db, err := Open(path, opts)
		took := time.Since(start)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%+v) of a store held by another process succeeded", opts)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open(%+v) = %v, want ErrLocked", opts, err)
		}
		var le *LockedError
		if !errors.As(err, &le) || le.Path != path {
			t.Fatalf("Open(%+v) = %#v, want a *LockedError for %s", opts, err, path)
		}
		if want := "index " + path + " is in use by another process"; !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
		// Fails fast, not a hang: the timeout plus scheduling slack.
		// (DefaultTimeout is 1s.)
		if took > 10*time.Second {
			t.Fatalf("Open(%+v) took %v", opts, took)
		}
	}

	release()
	db := openAt(t, path)
	if rec, err := db.Resolve("held", ""); err != nil || rec.Digest != dg("held") {
		t.Fatalf("the holder's record = %+v, %v", rec, err)
	}
}
