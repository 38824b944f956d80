package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:41111": true, "127.1.2.3:0": true, "[::1]:41111": true, "localhost:41111": true, "LOCALHOST:1": true,
		"0.0.0.0:41111": false, ":41111": false, "[::]:1": false, "192.168.1.2:41111": false, "example.com:1": false, "nonsense": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("%s: %v, want %v", addr, got, want)
		}
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	if tok, err := ReadToken(write("ok", "  abc123\n")); err != nil || tok != "abc123" {
		t.Errorf("ok: %q %v", tok, err)
	}
	for _, p := range []string{write("empty", " \n"), write("two", "a\nb\n"), filepath.Join(dir, "missing")} {
		if _, err := ReadToken(p); err == nil {
			t.Errorf("%s accepted", p)
		}
	}
}

// TestLock: one holder at a time; the holder's pid is readable; Probe
// tells; releasing frees it.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	if _, running, err := Probe(dir); err != nil || running {
		t.Fatalf("probe of an empty folder: %v %v", running, err)
	}
	l, err := acquireLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	pid, running, err := Probe(dir)
	if err != nil || !running || pid != os.Getpid() {
		t.Fatalf("probe while held: %d %v %v", pid, running, err)
	}
	_, err = acquireLock(dir)
	var re *RunningError
	if !errors.As(err, &re) || re.PID != os.Getpid() || re.Error() != fmt.Sprintf("gpmd is already running (pid %d) on %s", os.Getpid(), dir) {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
	if _, running, _ := Probe(dir); running {
		t.Fatal("still held after release")
	}
	l2, err := acquireLock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.release()
}
