package e2e

// Issue 16, points 6 and 10: folders handed to `gpmd import --from` and
// `gpmd restore --from` are crafted by someone else.

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// earlyVersion and earlyModule are the early gpmd's ghost.modules.json shape.
type earlyVersion struct {
	Version string `json:"version"`
	File    string `json:"file"`
	Hash    string `json:"hash"`
}

type earlyModule struct {
	Name     string                  `json:"name"`
	Versions map[string]earlyVersion `json:"versions"`
}

// writeEarlyStore writes ghost.modules.json listing each name@1.0.0 with
// its file and hash.
func writeEarlyStore(t *testing.T, dir string, files map[string][2]string) {
	t.Helper()
	store := map[string]earlyModule{}
	for name, fh := range files {
		store[name] = earlyModule{Name: name, Versions: map[string]earlyVersion{"1.0.0": {Version: "1.0.0", File: fh[0], Hash: fh[1]}}}
	}
	data, _ := json.Marshal(store)
	if err := os.WriteFile(filepath.Join(dir, "ghost.modules.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHardenImportCraftedFolder (issue 16, point 6): an early store whose
// entries are a symlink to a private file outside (with the right hash
// listed, and with a wrong one), a symlinked folder leading outside, a
// FIFO, a non-wasm binary and a file whose bytes do not match: nothing of
// them is imported, the import ends promptly, and no message shows the
// private file's hash nor bytes of a file that was not imported. Before the
// fix the symlink's digest was printed, and with it listed, the private
// file was served over GMP.
func TestHardenImportCraftedFolder(t *testing.T) {
	e := newEnv(t)
	e.start()
	private := t.TempDir()
	secret := testutil.Wasm("secret", 2000)
	secretFile := filepath.Join(private, "secret.wasm")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	secretHex := digest.FromBytes(secret).Encoded()

	early := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(secretFile, filepath.Join(early, "known.wasm")))
	must(os.Symlink(secretFile, filepath.Join(early, "guess.wasm")))
	must(os.Symlink(private, filepath.Join(early, "sub")))
	must(syscall.Mkfifo(filepath.Join(early, "fifo.wasm"), 0o644))
	binaryData := []byte{0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbf, 0x13, 0x37}
	must(os.WriteFile(filepath.Join(early, "binary.wasm"), binaryData, 0o644))
	mismatch := testutil.Wasm("mismatch", 500)
	must(os.WriteFile(filepath.Join(early, "mismatch.wasm"), mismatch, 0o644))
	good := testutil.Wasm("good", 700)
	must(os.WriteFile(filepath.Join(early, "good.wasm"), good, 0o644))
	wrong := strings.Repeat("ab", 32)
	writeEarlyStore(t, early, map[string][2]string{
		"known":    {"known.wasm", secretHex},
		"guess":    {"guess.wasm", wrong},
		"sub":      {"sub/secret.wasm", secretHex},
		"fifo":     {"fifo.wasm", wrong},
		"binary":   {"binary.wasm", digest.FromBytes(binaryData).Encoded()},
		"mismatch": {"mismatch.wasm", wrong},
		"good":     {"good.wasm", digest.FromBytes(good).Encoded()},
	})

	start := time.Now()
	r := e.run(nil, "import", "--from", early)
	took := time.Since(start)
	if r.code != exitProblems {
		t.Errorf("import of the crafted folder: want exit %d; %v", exitProblems, r)
	}
	if took > 20*time.Second {
		t.Errorf("import took %s", took)
	}
	rj := e.run(nil, "import", "--from", early, "-o", "json")
	leaks := []string{
		digest.FromBytes(mismatch).Encoded(), // hash of a file not imported
		hex.EncodeToString(binaryData[:4]),   // its bytes, in any spelling
		fmt.Sprintf("% x", binaryData[:4]),   //
		fmt.Sprintf("%x", binaryData[len(binaryData)-2:]),
	}
	for _, out := range []string{r.stdout + r.stderr, rj.stdout + rj.stderr} {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Errorf("import output shows %q of a file it did not import:\n%s", leak, out)
			}
		}
		// The private file's hash may appear only where the folder
		// itself listed it (known, sub), never as what a file hashes to.
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, secretHex) && !strings.Contains(line, "known") && !strings.Contains(line, "sub") {
				t.Errorf("import output shows the private file's hash: %s", line)
			}
		}
	}
	for _, name := range []string{"known", "guess", "sub", "fifo", "binary", "mismatch"} {
		if r := e.run(nil, "wasm", "get", name+"@1.0.0", "-o", filepath.Join(t.TempDir(), "x")); r.code != 4 {
			t.Errorf("%s was imported: %v", name, r)
		}
	}
	e.mustGet("good", "1.0.0", good)
	e.gpmd("kill")
}

// craftIndex writes a bbolt index of the current schema holding records
// (name, version text, data) under the version key of 1.0.0, bypassing
// every check an upload makes: what a crafted backup can hold. The layout
// is the one drawn in index/doc.go.
func craftIndex(t *testing.T, path string, recs [][3]any) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vkey := []byte{0x02}
	for _, n := range []uint64{1, 0, 0} {
		vkey = binary.BigEndian.AppendUint64(vkey, n)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucketIfNotExists([]byte("meta"))
		if err := meta.Put([]byte("schema"), binary.BigEndian.AppendUint64(nil, 3)); err != nil {
			return err
		}
		versions, _ := tx.CreateBucketIfNotExists([]byte("versions"))
		refs, _ := tx.CreateBucketIfNotExists([]byte("refs"))
		tx.CreateBucketIfNotExists([]byte("tombstones"))
		for _, r := range recs {
			name, version, data := r[0].(string), r[1].(string), r[2].([]byte)
			d := digest.FromBytes(data).String()
			val := binary.AppendUvarint(nil, uint64(len(version)))
			val = append(val, version...)
			val = binary.AppendUvarint(val, uint64(len(d)))
			val = append(val, d...)
			val = binary.AppendUvarint(val, uint64(len(data)))
			val = binary.BigEndian.AppendUint64(val, uint64(time.Now().Unix()))
			val = binary.BigEndian.AppendUint32(val, 0)
			nb, err := versions.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := nb.Put(vkey, val); err != nil {
				return err
			}
			ref := append(append(append(append([]byte(d), 0), name...), 0), vkey...)
			if err := refs.Put(ref, binary.BigEndian.AppendUint64(nil, uint64(len(data)))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// putBlob stores data in the blobs folder of the store folder dir.
func putBlob(t *testing.T, dir string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, "blobs", "sha256", digest.FromBytes(data).Encoded())
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
}

// TestHardenRestoreCrafted (issue 16, point 10): a crafted restore source
// whose blobs are a symlink to /dev/zero and a FIFO, whose index holds a
// version with terminal escape codes, and whose mirror lists it too: the
// restore ends promptly, copies only the good module, refuses the copied
// index and reports the crafted versions as lost, and nothing stored or
// listed carries the escapes. A mirror over the size limit, a FIFO or a
// symlink in its place are refused without reading them. Before the fix
// /dev/zero was copied until the disk was full, a FIFO hung, and the
// escapes passed restore and verify.
func TestHardenRestoreCrafted(t *testing.T) {
	const esc = "1.0.0-x\x1b[31m"
	good := testutil.Wasm("good", 1500)
	src := t.TempDir()
	putBlob(t, src, good)
	zeroData := testutil.Wasm("zero", 100)
	fifoData := testutil.Wasm("fifo", 100)
	blobs := filepath.Join(src, "blobs", "sha256")
	if err := os.Symlink("/dev/zero", filepath.Join(blobs, digest.FromBytes(zeroData).Encoded())); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(blobs, digest.FromBytes(fifoData).Encoded()), 0o644); err != nil {
		t.Fatal(err)
	}
	craftIndex(t, filepath.Join(src, "index.db"), [][3]any{{"good", "1.0.0", good}, {"esc", esc, good}, {"zero", "1.0.0", zeroData}, {"fifo", "1.0.0", fifoData}})
	mirror := map[string]map[string]any{}
	for _, m := range []struct {
		name, version string
		data          []byte
	}{{"good", "1.0.0", good}, {"esc", esc, good}, {"zero", "1.0.0", zeroData}, {"fifo", "1.0.0", fifoData}} {
		d := digest.FromBytes(m.data)
		mirror[m.name] = map[string]any{"name": m.name, "versions": map[string]any{m.version: map[string]any{
			"version": m.version, "file": "blobs/sha256/" + d.Encoded(), "hash": d.Encoded(), "digest": d.String(), "size": len(m.data)}}}
	}
	data, _ := json.Marshal(mirror)
	if err := os.WriteFile(filepath.Join(src, "ghost.modules.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t)
	start := time.Now()
	r := e.run(nil, "restore", "--from", src)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("restore took %s", took)
	}
	if r.code != exitProblems {
		t.Errorf("restore of a crafted source: want exit %d (something left out); %v", exitProblems, r)
	}
	if strings.Contains(r.stdout+r.stderr, "\x1b") {
		t.Errorf("restore printed a raw escape code:\n%q", r.stdout+r.stderr)
	}
	var held int64
	filepath.Walk(e.dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			held += fi.Size()
		}
		return nil
	})
	if held > 8<<20 {
		t.Errorf("the restored data folder holds %d bytes", held)
	}
	e.start()
	mods := e.listJSON()
	if len(mods) != 1 || mods[0].Name != "good" {
		t.Errorf("restored modules: %+v", mods)
	}
	e.mustGet("good", "1.0.0", good)
	if list := e.gpmd("wasm", "list"); strings.Contains(list.stdout, "\x1b") {
		t.Errorf("wasm list prints raw escapes: %q", list.stdout)
	}
	e.gpmd("verify")
	e.gpmd("kill")

	// The mirror itself crafted: too large (sparse, so the test writes
	// nothing), a FIFO, a symlink to /dev/zero. Each is refused at once.
	for _, kind := range []string{"large", "fifo", "symlink"} {
		t.Run("mirror "+kind, func(t *testing.T) {
			src := t.TempDir()
			putBlob(t, src, good)
			p := filepath.Join(src, "ghost.modules.json")
			var err error
			switch kind {
			case "large":
				err = os.WriteFile(p, nil, 0o644)
				if err == nil {
					err = os.Truncate(p, 65<<20)
				}
			case "fifo":
				err = syscall.Mkfifo(p, 0o644)
			case "symlink":
				err = os.Symlink("/dev/zero", p)
			}
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			start := time.Now()
			r := e.run(nil, "restore", "--from", src)
			if took := time.Since(start); took > 20*time.Second {
				t.Errorf("restore took %s", took)
			}
			if r.code == 0 {
				t.Errorf("restore from a %s mirror succeeded: %v", kind, r)
			}
			t.Logf("%s mirror: exit %d: %s", kind, r.code, strings.TrimSpace(r.stderr))
		})
	}
}

// TestHardenVerifyReportsCraftedRecord (issue 16, point 10): an index that
// holds a version no upload could store (terminal escape codes) is
// reported by verify (kind index), and rebuild-index leaves it out.
func TestHardenVerifyReportsCraftedRecord(t *testing.T) {
	e := newEnv(t)
	modules := filepath.Join(e.dir, "modules")
	good := testutil.Wasm("good", 800)
	putBlob(t, modules, good)
	craftIndex(t, filepath.Join(modules, "index.db"), [][3]any{{"good", "1.0.0", good}, {"esc", "1.0.0-x\x1b[2J", good}})
	e.start()
	rep, r := e.verifyJSON()
	if r.code != exitProblems {
		t.Errorf("verify of a crafted record: want exit %d; %v", exitProblems, r)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Kind == "index" && strings.Contains(p.Message, "esc"))
	}
	if !found {
		t.Errorf("verify does not report the crafted record: %+v", rep.Problems)
	}
	e.gpmd("kill")
	if err := os.Remove(filepath.Join(modules, "index.db")); err != nil {
		t.Fatal(err)
	}
	rb := e.run(nil, "rebuild-index")
	if strings.Contains(rb.stdout+rb.stderr, "\x1b") {
		t.Errorf("rebuild-index printed a raw escape code: %q", rb.stdout+rb.stderr)
	}
	e.start()
	if mods := e.listJSON(); len(mods) != 1 || mods[0].Name != "good" {
		t.Errorf("after rebuild-index: %+v", mods)
	}
	e.gpmd("verify")
	e.gpmd("kill")
}
