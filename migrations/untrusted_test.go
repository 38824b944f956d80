package migrations

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// TestImportLegacyUntrustedFolder (issue 16, point 6): symlinks (to a file
// outside, to a folder outside, even to a file inside), a FIFO and a file
// whose bytes do not match are refused without hanging, the uploader never
// sees them, and no reason shows what a refused file hashes to.
func TestImportLegacyUntrustedFolder(t *testing.T) {
	outside := t.TempDir()
	secret := testutil.Wasm("secret", 300)
	secretPath := filepath.Join(outside, "secret.wasm")
	if err := os.WriteFile(secretPath, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	secretHex := digest.FromBytes(secret).Encoded()
	dir := t.TempDir()
	good := testutil.Wasm("good", 300)
	other := testutil.Wasm("other", 300)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "good.wasm"), good, 0o644))
	must(os.WriteFile(filepath.Join(dir, "other.wasm"), other, 0o644))
	must(os.Symlink(secretPath, filepath.Join(dir, "out.wasm")))
	must(os.Symlink(outside, filepath.Join(dir, "sub")))
	must(os.Symlink("good.wasm", filepath.Join(dir, "in.wasm")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo.wasm"), 0o644))
	wrong := strings.Repeat("0", 64)
	list := map[string][2]string{
		"good":  {"good.wasm", digest.FromBytes(good).Encoded()},
		"out":   {"out.wasm", secretHex},
		"sub":   {"sub/secret.wasm", secretHex},
		"in":    {"in.wasm", digest.FromBytes(good).Encoded()},
		"fifo":  {"fifo.wasm", wrong},
		"wrong": {"other.wasm", wrong},
	}
	store := map[string]any{}
	for name, fh := range list {
		store[name] = map[string]any{"name": name, "versions": map[string]any{"1.0.0": map[string]string{"version": "1.0.0", "file": fh[0], "hash": fh[1]}}}
	}
	data, _ := json.Marshal(store)
	must(os.WriteFile(filepath.Join(dir, "ghost.modules.json"), data, 0o644))

	up := newUploader(t)
	start := time.Now()
	rep, err := ImportLegacy(t.Context(), dir, up)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("import took %s", d)
	}
	if len(rep.Imported) != 1 || rep.Imported[0].Name != "good" || len(rep.Refused) != 5 {
		t.Fatalf("import = %+v", rep)
	}
	for _, ref := range rep.Refused {
		if strings.Contains(ref.Reason, digest.FromBytes(other).Encoded()) {
			t.Errorf("refusal of %s shows the hash of the refused file: %s", ref.Name, ref.Reason)
		}
		if ref.Name == "wrong" || ref.Name == "fifo" {
			if strings.Contains(ref.Reason, secretHex) {
				t.Errorf("refusal of %s shows the secret's hash: %s", ref.Name, ref.Reason)
			}
		}
	}
	if mods, _ := up.db.List(""); len(mods) != 1 {
		t.Errorf("the uploader stored %+v", mods)
	}
}
