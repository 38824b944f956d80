package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestFullDisk: on a small tmpfs of its own, an upload larger than the
// free space fails with one clear line and a non-zero exit, leaves no
// partial file under blobs/ and nothing in ingest/, and the daemon keeps
// serving every module it had; verify then exits 0. It needs to mount a
// filesystem (root); where the machine forbids it, it says so and skips.
func TestFullDisk(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here, so the full-disk case is not run: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	e := newEnv(t)
	e.dir = filepath.Join(mnt, "data")
	e.start()

	mods := map[[2]string][]byte{
		{"a", "1.0.0"}: testutil.Wasm("a", 100<<10),
		{"b", "1.0.0"}: testutil.Wasm("b", 200<<10),
		{"c", "2.0.0"}: testutil.Wasm("c", 50<<10),
	}
	for k, data := range mods {
		e.upload(k[0], k[1], data)
	}

	// Bigger than the whole filesystem: it cannot fit whatever is free.
	huge := testutil.Wasm("huge", 4<<20)
	r := e.run(nil, "wasm", "upload", "--name", "huge", "--version", "1.0.0", "--file", e.file("huge.wasm", huge))
	if r.code == 0 {
		t.Fatalf("an upload larger than the disk succeeded: %v", r)
	}
	line := oneLine(t, r)
	if !strings.Contains(strings.ToLower(line), "no space") || strings.Contains(line, "ingest") {
		t.Errorf("the error does not say plainly that the disk is full: %q", line)
	}
	t.Logf("full disk: exit %d: %s", r.code, line)

	modules := filepath.Join(e.dir, "modules")
	ingest, err := os.ReadDir(filepath.Join(modules, "ingest"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(ingest) != 0 {
		t.Errorf("ingest/ holds %d entries after the failed upload", len(ingest))
	}
	blobs, err := os.ReadDir(filepath.Join(modules, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != len(mods) {
		t.Errorf("blobs/sha256 holds %d files, want %d", len(blobs), len(mods))
	}
	for _, b := range blobs {
		data, err := os.ReadFile(filepath.Join(modules, "blobs", "sha256", b.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != b.Name() {
			t.Errorf("blob %s is partial or wrong (%d bytes)", b.Name(), len(data))
		}
	}
	if r := e.run(nil, "wasm", "get", "huge@1.0.0"); r.code != 4 {
		t.Errorf("get of the failed upload: want exit 4 (not found); %v", r)
	}
	for k, data := range mods {
		e.mustGet(k[0], k[1], data)
	}
	// Still accepting what fits.
	small := testutil.Wasm("small", 10<<10)
	e.upload("small", "1.0.0", small)
	e.mustGet("small", "1.0.0", small)
	if r := e.gpmd("verify"); !strings.Contains(r.stdout, "no problems") {
		t.Errorf("verify after the full disk: %q", r.stdout)
	}
	e.gpmd("kill")
}
