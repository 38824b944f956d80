package conf

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestFilesOwner(t *testing.T) {
	write := func(t *testing.T, dir, name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name        string
		state, pidf string // "" : absent
		want        int
	}{
		{"both", `{"pid": 4242, "version": "1"}`, "4242\n", 4242},
		{"the state file wins", `{"pid": 4242}`, "77\n", 4242},
		{"pid file alone", "", "77\n", 77},
		{"state file garbage, pid file good", "{not json", "77\n", 77},
		{"neither", "", "", 0},
		{"both garbage", `{"pid": -3}`, "seventy\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.state != "" {
				write(t, dir, StateFile, tc.state)
			}
			if tc.pidf != "" {
				write(t, dir, PIDFile, tc.pidf)
			}
			if got := FilesOwner(dir); got != tc.want {
				t.Fatalf("FilesOwner = %d, want %d", got, tc.want)
			}
		})
	}

	// A FIFO in place of either file is not read: no blocking, no owner.
	dir := t.TempDir()
	for _, name := range []string{StateFile, PIDFile} {
		if err := syscall.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan int, 1)
	go func() { done <- FilesOwner(dir) }()
	select {
	case got := <-done:
		if got != 0 {
			t.Fatalf("FilesOwner with FIFOs = %d, want 0", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FilesOwner blocked on a FIFO")
	}
}
