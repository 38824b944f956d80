package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// exitProblems is the exit status of verify (and restore, rebuild-index,
// import) when it found problems: cmd/cli/exit.go.
const exitProblems = 7

// blobPath is where the data folder keeps the bytes of data.
func (e *env) blobPath(data []byte) string {
	return filepath.Join(e.dir, "modules", "blobs", "sha256", digest.FromBytes(data).Encoded())
}

// upload uploads data as name@version and fails the test otherwise.
func (e *env) upload(name, version string, data []byte) {
	e.t.Helper()
	e.gpmd("wasm", "upload", "--name", name, "--version", version, "--file", e.file(name+"-"+version+".wasm", data))
}

// verifyJSON runs `gpmd verify -o json` and decodes it.
func (e *env) verifyJSON() (repo.VerifyReport, result) {
	e.t.Helper()
	r := e.run(nil, "verify", "-o", "json")
	var rep repo.VerifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		e.t.Fatalf("verify -o json: %v\n%v", err, r)
	}
	return rep, r
}

// mustGet checks that name@version is served with exactly data.
func (e *env) mustGet(name, version string, data []byte) {
	e.t.Helper()
	out := filepath.Join(e.t.TempDir(), "got.wasm")
	e.gpmd("wasm", "get", name+"@"+version, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		e.t.Fatalf("get %s@%s: %d bytes, not the %d uploaded", name, version, len(got), len(data))
	}
}

// someModules are three modules, one of them in two versions.
func someModules() map[[2]string][]byte {
	return map[[2]string][]byte{
		{"math", "v0.0.1"}:  testutil.Wasm("math1", 3000),
		{"math", "v0.0.2"}:  testutil.Wasm("math2", 4000),
		{"calc", "1.0.0"}:   testutil.Wasm("calc", 20000),
		{"render", "2.1.0"}: testutil.Wasm("render", 700),
	}
}

// TestVerify: a sound store verifies (exit 0, even with garbage); one byte
// flipped in a blob on disk makes verify name the module and its digest
// and exit 7; get refuses it and writes no file; the rest is still served.
func TestVerify(t *testing.T) {
	e := newEnv(t)
	e.start()
	mods := someModules()
	for k, data := range mods {
		e.upload(k[0], k[1], data)
	}
	r := e.gpmd("verify")
	if !strings.Contains(r.stdout, "Verified 4 versions in 4 blobs") || !strings.Contains(r.stdout, "no problems") {
		t.Errorf("verify of a sound store printed %q", r.stdout)
	}
	rep, r := e.verifyJSON()
	if r.code != 0 || !rep.OK() || rep.Versions != 4 || rep.Blobs != 4 || len(rep.Garbage) != 0 {
		t.Fatalf("verify -o json of a sound store: %+v\n%v", rep, r)
	}

	bad := mods[[2]string{"calc", "1.0.0"}]
	testutil.FlipByte(t, e.blobPath(bad), int64(len(bad)/2))

	r = e.run(nil, "verify")
	if r.code != exitProblems {
		t.Fatalf("verify after a flipped byte: want exit %d; %v", exitProblems, r)
	}
	d := digest.FromBytes(bad).String()
	if !strings.Contains(r.stdout, "corrupt") || !strings.Contains(r.stdout, "calc@1.0.0") || !strings.Contains(r.stdout, d) {
		t.Errorf("verify does not name calc@1.0.0 %s as corrupt:\n%s", d, r.stdout)
	}
	if line := oneLine(t, r); !strings.Contains(line, "1 problem") {
		t.Errorf("verify's error line: %q", line)
	}
	rep, r = e.verifyJSON()
	if r.code != exitProblems || len(rep.Problems) != 1 {
		t.Fatalf("verify -o json: %+v\n%v", rep, r)
	}
	if p := rep.Problems[0]; p.Kind != repo.ProblemCorrupt || p.Name != "calc" || p.Version != "1.0.0" || p.Digest.String() != d {
		t.Errorf("problem: %+v", p)
	}

	out := filepath.Join(t.TempDir(), "calc.wasm")
	if r := e.run(nil, "wasm", "get", "calc@1.0.0", "-o", out); r.code == 0 {
		t.Errorf("get of the corrupt module succeeded: %v", r)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("get of the corrupt module left %s (%v)", out, err)
	}
	for k, data := range mods {
		if k[0] != "calc" {
			e.mustGet(k[0], k[1], data)
		}
	}
}

// TestGC: the same version uploaded with other bytes is refused and leaves
// an orphan blob: verify lists it as garbage and exits 0, gc --dry-run
// lists it and removes nothing, gc removes it and nothing else.
func TestGC(t *testing.T) {
	e := newEnv(t)
	e.start()
	first := testutil.Wasm("first", 5000)
	other := testutil.Wasm("other", 6000)
	e.upload("app", "1.0.0", first)
	e.upload("shared", "1.0.0", first) // two versions share one blob
	if r := e.run(nil, "wasm", "upload", "--name", "app", "--version", "1.0.0", "--file", e.file("other.wasm", other)); r.code != 5 {
		t.Fatalf("upload of other bytes: want exit 5 (conflict); %v", r)
	}
	orphan := e.blobPath(other)
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("the refused upload left no orphan blob to collect (%v); this test needs one", err)
	}
	d := digest.FromBytes(other).String()

	rep, r := e.verifyJSON()
	if r.code != 0 || len(rep.Garbage) != 1 || rep.Garbage[0].Digest.String() != d {
		t.Fatalf("verify with one orphan: want exit 0 and it as garbage; %+v\n%v", rep, r)
	}
	if r := e.gpmd("verify"); !strings.Contains(r.stdout, "Garbage for gpmd gc: 1 blob") || !strings.Contains(r.stdout, d) {
		t.Errorf("verify text does not list the garbage:\n%s", r.stdout)
	}

	r = e.gpmd("gc", "--dry-run")
	if !strings.Contains(r.stdout, "Would remove 1 blob") || !strings.Contains(r.stdout, d) {
		t.Errorf("gc --dry-run printed %q", r.stdout)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("gc --dry-run removed the orphan: %v", err)
	}
	r = e.gpmd("gc", "-o", "json")
	var gc repo.GCReport
	if err := json.Unmarshal([]byte(r.stdout), &gc); err != nil {
		t.Fatal(err, r.stdout)
	}
	if gc.DryRun || len(gc.Removed) != 1 || gc.Removed[0].Digest.String() != d {
		t.Errorf("gc: %+v", gc)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("the orphan is still there after gc: %v", err)
	}
	if r := e.gpmd("gc"); !strings.Contains(r.stdout, "Nothing to remove.") {
		t.Errorf("second gc printed %q", r.stdout)
	}
	// Removing one of two versions sharing a blob, then gc, keeps the blob.
	e.gpmd("wasm", "rm", "shared@1.0.0")
	if r := e.gpmd("gc"); !strings.Contains(r.stdout, "Nothing to remove.") {
		t.Errorf("gc after removing one of two names of a blob printed %q", r.stdout)
	}
	e.mustGet("app", "1.0.0", first)
	if rep, r := e.verifyJSON(); r.code != 0 || len(rep.Garbage) != 0 {
		t.Errorf("verify after gc: %+v\n%v", rep, r)
	}
}

// restoreAndCheck restores from src into a fresh data folder, starts a
// daemon there and gets every module back.
func restoreAndCheck(t *testing.T, src string, mods map[[2]string][]byte) *env {
	t.Helper()
	e2 := newEnv(t)
	r := e2.run(nil, "restore", "--from", src)
	if r.code != 0 {
		t.Fatalf("restore: %v", r)
	}
	if !strings.Contains(r.stdout, "Restored ") || !strings.Contains(r.stdout, fmt.Sprintf("Verified %d versions", len(mods))) || !strings.Contains(r.stdout, "no problems") {
		t.Errorf("restore printed %q", r.stdout)
	}
	e2.start()
	for k, data := range mods {
		e2.mustGet(k[0], k[1], data)
	}
	if got := len(e2.listJSON()); got != 3 {
		t.Errorf("restored store lists %d modules, want 3", got)
	}
	e2.gpmd("verify")
	return e2
}

// TestBackupRestore: gpmd backup while the daemon runs, gpmd restore into
// a fresh data folder, and every module is back.
func TestBackupRestore(t *testing.T) {
	e := newEnv(t)
	e.start()
	mods := someModules()
	for k, data := range mods {
		e.upload(k[0], k[1], data)
	}
	dst := filepath.Join(t.TempDir(), "backup")
	r := e.gpmd("backup", "--to", dst)
	if !strings.Contains(r.stdout, "Backed up 4 versions in 4 blobs") {
		t.Errorf("backup printed %q", r.stdout)
	}
	// A second backup into the same, now full, folder is refused.
	r = e.run(nil, "backup", "--to", dst)
	if r.code == 0 || !strings.Contains(oneLine(t, r), "not empty") {
		t.Errorf("backup into a full folder: %v", r)
	}
	// The daemon keeps serving after the backups.
	e.mustGet("math", "v0.0.2", mods[[2]string{"math", "v0.0.2"}])

	// Restore is offline: refused on a data folder whose daemon runs, and
	// into a data folder that holds a store.
	r = e.run(nil, "restore", "--from", dst)
	if r.code == 0 || !strings.Contains(oneLine(t, r), "already running") {
		t.Errorf("restore onto a running daemon: %v", r)
	}
	e.gpmd("kill")
	r = e.run(nil, "restore", "--from", dst)
	if r.code == 0 || !strings.Contains(oneLine(t, r), "already holds a module store") {
		t.Errorf("restore onto a data folder with a store: %v", r)
	}
	restoreAndCheck(t, dst, mods)
}

// TestCopyRestore: a plain cp -a of the data folder taken while the
// daemon runs restores.
func TestCopyRestore(t *testing.T) {
	e := newEnv(t)
	e.start()
	mods := someModules()
	for k, data := range mods {
		e.upload(k[0], k[1], data)
	}
	cp := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", e.dir, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	restoreAndCheck(t, cp, mods)

	// And where the copied index is torn: rebuilt from mirror and blobs.
	cp2 := filepath.Join(t.TempDir(), "copy2")
	if out, err := exec.Command("cp", "-a", e.dir, cp2).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	e.gpmd("kill") // the mirror is written for sure
	if out, err := exec.Command("cp", "-a", filepath.Join(e.dir, "modules", modulesjson.FileName), filepath.Join(cp2, "modules", modulesjson.FileName)).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(cp2, "modules", repo.IndexFile), bytes.Repeat([]byte("torn"), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	e3 := newEnv(t)
	r := e3.run(nil, "restore", "--from", cp2)
	if r.code != 0 || !strings.Contains(r.stdout, "index rebuilt") {
		t.Fatalf("restore from a copy with a torn index: %v", r)
	}
	e3.start()
	for k, data := range mods {
		e3.mustGet(k[0], k[1], data)
	}
}

// TestIndexLostWhileDown: the index deleted, or overwritten with garbage,
// while the daemon is down: start fails with one line naming the way back;
// rebuild-index (refused while a daemon runs) brings every module back.
func TestIndexLostWhileDown(t *testing.T) {
	for _, how := range []string{"deleted", "garbage"} {
		t.Run(how, func(t *testing.T) {
			e := newEnv(t)
			e.start()
			mods := someModules()
			for k, data := range mods {
				e.upload(k[0], k[1], data)
			}
			r := e.run(nil, "rebuild-index")
			if r.code == 0 || !strings.Contains(oneLine(t, r), "already running") {
				t.Errorf("rebuild-index while the daemon runs: %v", r)
			}
			e.gpmd("kill")
			idx := filepath.Join(e.dir, "modules", repo.IndexFile)
			if how == "deleted" {
				if err := os.Remove(idx); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(idx, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4096), 0o600); err != nil {
				t.Fatal(err)
			}
			r = e.run(nil, append([]string{"start"}, portZero...)...)
			if r.code == 0 {
				t.Fatalf("start with the index %s succeeded: %v", how, r)
			}
			line := oneLine(t, r)
			if !strings.Contains(line, "gpmd rebuild-index") || !strings.Contains(line, "gpmd restore") {
				t.Errorf("start's message does not name the way back: %q", line)
			}
			e.assertNoDaemon()

			r = e.gpmd("rebuild-index")
			if !strings.Contains(r.stdout, "Rebuilt ") || !strings.Contains(r.stdout, "4 versions") || !strings.Contains(r.stdout, "no problems") {
				t.Errorf("rebuild-index printed %q", r.stdout)
			}
			e.start()
			for k, data := range mods {
				e.mustGet(k[0], k[1], data)
			}
			e.gpmd("verify")
		})
	}
}

// TestImportEarlyStore: an early gpmd store with one module whose bytes do
// not match its hash: that one is refused and named, the others imported.
func TestImportEarlyStore(t *testing.T) {
	e := newEnv(t)
	e.start()
	early := filepath.Join(t.TempDir(), ".ghost-network", "modules")
	if err := os.MkdirAll(early, 0o755); err != nil {
		t.Fatal(err)
	}
	type ver struct {
		Version string `json:"version"`
		File    string `json:"file"`
		Hash    string `json:"hash"`
	}
	type mod struct {
		Name     string         `json:"name"`
		Versions map[string]ver `json:"versions"`
	}
	store := map[string]mod{}
	add := func(name, version string, data []byte, hash string) {
		file := name + "-" + version + ".wasm"
		if err := os.WriteFile(filepath.Join(early, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, ok := store[name]
		if !ok {
			m = mod{Name: name, Versions: map[string]ver{}}
		}
		m.Versions[version] = ver{Version: version, File: file, Hash: hash}
		store[name] = m
	}
	good1 := testutil.Wasm("early1", 1500)
	good2 := testutil.Wasm("early2", 2500)
	tampered := testutil.Wasm("tampered", 900)
	add("math", "v0.0.1", good1, digest.FromBytes(good1).Encoded())
	add("calc", "v1.0.0", good2, digest.FromBytes(good2).Encoded())
	add("evil", "v0.1.0", tampered, digest.FromBytes(testutil.Wasm("original", 900)).Encoded())
	data, _ := json.Marshal(store)
	if err := os.WriteFile(filepath.Join(early, "ghost.modules.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	r := e.run(nil, "import", "--from", early)
	if r.code != exitProblems {
		t.Fatalf("import with one tampered module: want exit %d; %v", exitProblems, r)
	}
	for _, want := range []string{"Imported math@v0.0.1", "Imported calc@v1.0.0", "Refused  evil@v0.1.0", "Imported 2 versions; refused 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(oneLine(t, r), "1 version refused") {
		t.Errorf("import's error line: %q", r.stderr)
	}
	e.mustGet("math", "v0.0.1", good1)
	e.mustGet("calc", "v1.0.0", good2)
	if r := e.run(nil, "wasm", "get", "evil@v0.1.0"); r.code != 4 {
		t.Errorf("the tampered module was stored: %v", r)
	}
	// Again, from the folder above: harmless, the same refusal.
	r = e.run(nil, "import", "--from", filepath.Dir(early), "-o", "json")
	if r.code != exitProblems || !strings.Contains(r.stdout, `"evil"`) {
		t.Errorf("second import: %v", r)
	}
	if got := len(e.listJSON()); got != 2 {
		t.Errorf("%d modules after import, want 2", got)
	}
	e.gpmd("verify")
}
