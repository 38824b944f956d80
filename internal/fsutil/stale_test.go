package fsutil

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	old, young, sub := filepath.Join(dir, "old"), filepath.Join(dir, "young"), filepath.Join(dir, "sub")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	hourAgo := time.Now().Add(-time.Hour)
	for _, p := range []string{old, sub} {
		if err := os.Chtimes(p, hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	cut := time.Now().Add(-time.Minute)
	paths := []string{old, young, sub, filepath.Join(dir, "gone")}
	if got := RemoveStale(paths, cut, true); !slices.Equal(got, []string{old}) {
		t.Fatalf("dry run = %v, want [%s]", got, old)
	}
	if _, err := os.Stat(old); err != nil {
		t.Fatalf("dry run removed %s: %v", old, err)
	}
	if got := RemoveStale(paths, cut, false); !slices.Equal(got, []string{old}) {
		t.Fatalf("RemoveStale = %v, want [%s]", got, old)
	}
	for p, want := range map[string]bool{old: false, young: true, sub: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", p, err == nil, want)
		}
	}
}
