package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// checkModes walks the data folder: folders 0700, blobs 0400, every other
// file 0600; nothing readable by the group or others.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	blobs := 0
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		want := fs.FileMode(0o600)
		switch {
		case de.IsDir():
			want = 0o700
		case strings.HasPrefix(rel, filepath.Join(conf.ModulesDir, "blobs")+string(filepath.Separator)):
			want = 0o400
			blobs++
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", rel, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if blobs == 0 {
		t.Errorf("no blob under %s: the walk proves nothing", dir)
	}
}

// TestDataFolderModes: a new data folder is created private (folders
// 0700, files 0600, blobs 0400), and a folder an older gpmd left readable
// by others is tightened at the next start, with a line in the log.
func TestDataFolderModes(t *testing.T) {
	e := newEnv(t)
	e.start("--log-max-size", "1KiB") // rotated logs are checked too
	for _, v := range []string{"v0.0.1", "v0.0.2", "v0.1.0"} {
		e.gpmd("wasm", "upload", "--name", "mod", "--version", v, "--file", e.file("m.wasm", testutil.Wasm(v, 1024)))
	}
	for range 5 {
		e.gpmd("wasm", "list")
	}
	checkModes(t, e.dir)
	if _, err := os.Stat(filepath.Join(e.dir, conf.LogFile+".1")); err != nil {
		t.Errorf("the log did not rotate: %v", err)
	}
	e.gpmd("kill")

	// Loosen everything, as an older gpmd (or a careless cp -r) leaves it.
	filepath.WalkDir(e.dir, func(path string, de fs.DirEntry, err error) error {
		if err == nil {
			mode := fs.FileMode(0o644)
			if de.IsDir() {
				mode = 0o755
			}
			os.Chmod(path, mode)
		}
		return nil
	})
	e.start()
	checkModes(t, e.dir)
	log, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(log), "tightened permissions in the data folder") {
		t.Errorf("no log line about tightening:\n%s", log)
	}
	if got := e.gpmd("wasm", "get", "mod@v0.1.0").stdout; got != string(testutil.Wasm("v0.1.0", 1024)) {
		t.Error("a module lost its bytes across the tightening")
	}
}
