package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "reg")
	if err := os.WriteFile(reg, []byte("bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, fi, err := OpenRegular(reg)
	if err != nil || fi.Size() != 5 {
		t.Fatalf("OpenRegular of a regular file: %v, %v", fi, err)
	}
	f.Close()

	for kind, make := range map[string]func(p string) error{
		"a symlink": func(p string) error { return os.Symlink(reg, p) },
		"a folder":  func(p string) error { return os.Mkdir(p, 0o755) },
		"a FIFO":    func(p string) error { return syscall.Mkfifo(p, 0o644) },
	} {
		p := filepath.Join(dir, strings.ReplaceAll(kind, " ", "-"))
		if err := make(p); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, _, err := OpenRegular(p)
		var nr *NotRegularError
		if !errors.Is(err, ErrNotRegular) || !errors.As(err, &nr) || nr.Kind != kind {
			t.Errorf("OpenRegular of %s = %v, want ErrNotRegular naming it", kind, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("OpenRegular of %s took %s", kind, d)
		}
	}
	if _, _, err := OpenRegular(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRegular of a missing file = %v", err)
	}
	if _, _, err := OpenRegular("/dev/null"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("OpenRegular of a device = %v", err)
	}
}

func TestReadRegularLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadRegular(p, 10); err != nil || string(b) != "0123456789" {
		t.Fatalf("ReadRegular at the limit = %q, %v", b, err)
	}
	if _, err := ReadRegular(p, 9); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("ReadRegular over the limit = %v", err)
	}
	if _, err := ReadRegular("/dev/zero", 1<<20); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("ReadRegular of /dev/zero = %v", err)
	}
}
