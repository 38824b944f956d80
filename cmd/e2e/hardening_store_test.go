package e2e

// The storage points of issue 16 (hardening), each reproduced against the
// real binary: a full disk at start (3), a corrupt blob under an upload (7),
// faults verify missed (8), FIFOs in place of blobs (9) and removed versions
// that changed their bytes (21). Imports and restores of crafted folders
// (6, 10) are in hardening_store_sources_test.go.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
)

// mountTmpfs mounts a tmpfs of size at a new folder and unmounts it when
// the test ends; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here, so the full-disk case is not run: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// fillDisk writes a file at path until the filesystem is full (bounded by
// max bytes) and returns the bytes written.
func fillDisk(t *testing.T, path string, max int64) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	var n int64
	for n < max {
		k, err := f.Write(chunk)
		n += int64(k)
		if err != nil {
			if !errorsIsENOSPC(err) {
				t.Fatalf("filling the disk: %v", err)
			}
			// The last pages: small writes until nothing fits.
			for small := []byte{0}; ; {
				if _, err := f.Write(small); err != nil {
					break
				}
				n++
			}
			return n
		}
	}
	t.Fatalf("the disk took %d bytes and is still not full", n)
	return n
}

func errorsIsENOSPC(err error) bool {
	var errno syscall.Errno
	for e := err; e != nil; {
		if en, ok := e.(syscall.Errno); ok {
			errno = en
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	return errno == syscall.ENOSPC
}

// putHTTP uploads data as name@version through the control API (no token)
// and fails the test unless it is stored.
func putHTTP(t *testing.T, ctrl, name, version string, data []byte) {
	t.Helper()
	url := fmt.Sprintf("http://%s/v1/modules/%s/%s", ctrl, name, version)
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("PUT %s: %s: %s", url, resp.Status, body)
	}
}

// TestHardenFullDiskStart (issue 16, point 3): on a full disk, a daemon
// whose mirror must be rewritten at open starts anyway (a warning: the
// index is the truth), serves every module and lets rm and gc run; once
// space is back, the mirror writer catches up by itself and verify is
// clean. Before the fix, start failed on "writing ghost.modules.json: no
// space left on device".
//
// The disk is left with a few pages free (16 KiB), fewer than the mirror
// needs (some 60 KiB: 100 versions with long pre-release names): the
// daemon's own start-up check writes a small file in the data folder, and
// its state file must be written too; those are the command side's
// (cmd/daemon), and on a disk with not one page free they fail start first.
func TestHardenFullDiskStart(t *testing.T) {
	mnt := mountTmpfs(t, "4m")
	e := newEnv(t)
	e.dir = filepath.Join(mnt, "data")
	st := e.start()
	tiny := testutil.Wasm("tiny", 100)
	long := strings.Repeat("x", 200)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			putHTTP(t, st.ControlAddr, "many", fmt.Sprintf("1.0.%d-%s", i, long), tiny)
		}(i)
	}
	wg.Wait()
	big := testutil.Wasm("b", 200<<10)
	e.upload("b", "1.0.0", big)
	if t.Failed() {
		t.FailNow()
	}
	e.gpmd("kill")

	// The mirror is behind the index (as after a kill whose last mirror
	// write met the full disk): the next open must rewrite it. Then the
	// disk fills up, all but the reserve.
	mirror := filepath.Join(e.dir, "modules", "ghost.modules.json")
	if fi, err := os.Stat(mirror); err != nil || fi.Size() < 48<<10 {
		t.Fatalf("the mirror should be over 48 KiB: %v, %v", fi, err)
	}
	if err := os.Remove(mirror); err != nil {
		t.Fatal(err)
	}
	reserve := filepath.Join(mnt, "reserve")
	if err := os.WriteFile(reserve, make([]byte, 16<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler, 8<<20)
	if err := os.Remove(reserve); err != nil {
		t.Fatal(err)
	}

	r := e.run(nil, append([]string{"start"}, portZero...)...)
	if r.code != 0 {
		t.Fatalf("start on a full disk with a mirror to rewrite: %v", r)
	}
	e.mustGet("b", "1.0.0", big)
	e.mustGet("many", "1.0.7-"+long, tiny)
	if _, err := os.Stat(mirror); err == nil {
		t.Fatalf("the mirror was written on a full disk?")
	}
	log, _ := os.ReadFile(filepath.Join(e.dir, "gpmd.log"))
	if !strings.Contains(string(log), "mirror cannot be rewritten") {
		t.Errorf("no warning about the mirror in the log:\n%s", log)
	}

	// The way out works on the full disk: rm and gc free space.
	e.gpmd("wasm", "rm", "b@1.0.0")
	e.gpmd("gc")

	// Space comes back: the writer retries and catches up on its own.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if !testutil.Eventually(45*time.Second, func() bool { _, err := os.Stat(mirror); return err == nil }) {
		t.Fatal("the mirror was not rewritten within 45s of space coming back")
	}
	if r := e.gpmd("verify"); !strings.Contains(r.stdout, "no problems") {
		t.Errorf("verify after the disk was freed: %q", r.stdout)
	}
	e.gpmd("kill")
}

// TestHardenCorruptBlobRepaired (issue 16, point 7): a stored blob with one
// byte flipped (same size) is repaired by an upload of the original bytes,
// as the same version or a new one, with or without a claimed digest; every
// acknowledged upload is then readable and verify is clean. Before the fix
// the upload was acknowledged, get failed and verify listed both corrupt.
func TestHardenCorruptBlobRepaired(t *testing.T) {
	e := newEnv(t)
	e.start()
	data := testutil.Wasm("repair", 50<<10)
	e.upload("fix", "1.0.0", data)

	testutil.FlipByte(t, e.blobPath(data), 1000)
	if rep, _ := e.verifyJSON(); len(rep.Problems) != 1 || rep.Problems[0].Kind != repo.ProblemCorrupt {
		t.Fatalf("verify after the flip: %+v", rep.Problems)
	}
	// The same version again, then a new version with the same bytes.
	e.upload("fix", "1.0.0", data)
	e.mustGet("fix", "1.0.0", data)
	testutil.FlipByte(t, e.blobPath(data), 2000)
	e.upload("fix", "1.1.0", data)
	e.mustGet("fix", "1.0.0", data)
	e.mustGet("fix", "1.1.0", data)
	if rep, r := e.verifyJSON(); !rep.OK() {
		t.Fatalf("verify after the repairing uploads: %v", r)
	}
}

// TestHardenVerifyFindsNonRegular (issue 16, point 8): verify reports every
// entry under blobs/ that is not a regular file (a symlink, a folder, a
// FIFO in place of blobs), and gets of those modules fail as corrupt. Before
// the fix: "no problems".
func TestHardenVerifyFindsNonRegular(t *testing.T) {
	e := newEnv(t)
	e.start()
	mods := map[string][]byte{
		"sym":  testutil.Wasm("sym", 3000),
		"dir":  testutil.Wasm("dir", 3000),
		"fifo": testutil.Wasm("fifo", 3000),
	}
	for name, data := range mods {
		e.upload(name, "1.0.0", data)
	}
	outside := e.file("outside.wasm", mods["sym"])
	for name, data := range mods {
		p := e.blobPath(data)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		var err error
		switch name {
		case "sym":
			err = os.Symlink(outside, p)
		case "dir":
			err = os.Mkdir(p, 0o755)
		case "fifo":
			err = syscall.Mkfifo(p, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, r := e.verifyJSON()
	if r.code != exitProblems {
		t.Errorf("verify with non-regular blobs: want exit %d; %v", exitProblems, r)
	}
	got := map[string]bool{}
	for _, p := range rep.Problems {
		if p.Kind == repo.ProblemNotRegular {
			got[p.Digest.String()] = true
		}
	}
	for name, data := range mods {
		d := "sha256:" + filepath.Base(e.blobPath(data))
		if !got[d] {
			t.Errorf("verify does not report the %s in place of a blob: %+v", name, rep.Problems)
		}
		if r := e.run(nil, "wasm", "get", name+"@1.0.0", "-o", filepath.Join(t.TempDir(), "x")); r.code == 0 {
			t.Errorf("get of the %s in place of a blob succeeded", name)
		}
	}
	// The daemon repairs what an upload of the bytes names.
	for name, data := range mods {
		e.upload(name, "1.0.0", data)
		e.mustGet(name, "1.0.0", data)
	}
	if rep, r := e.verifyJSON(); !rep.OK() {
		t.Errorf("verify after the repairing uploads: %v", r)
	}
}

// TestHardenIndexUnlinked (issue 16, point 8): index.db unlinked while the
// daemon runs: uploads and removals are refused with a clear error (the
// file was removed; restart after a restore or rebuild), verify reports it,
// and nothing acknowledged is lost. Before the fix, uploads were
// acknowledged into the unlinked file and lost at the next start.
func TestHardenIndexUnlinked(t *testing.T) {
	e := newEnv(t)
	e.start()
	kept := testutil.Wasm("kept", 2000)
	e.upload("kept", "1.0.0", kept)
	if err := e.run(nil, "backup", "--to", filepath.Join(t.TempDir(), "bk")); err.code != 0 {
		t.Fatalf("backup: %v", err)
	}
	if err := os.Remove(filepath.Join(e.dir, "modules", "index.db")); err != nil {
		t.Fatal(err)
	}
	r := e.run(nil, "wasm", "upload", "--name", "late", "--version", "1.0.0", "--file", e.file("late.wasm", testutil.Wasm("late", 100)))
	if r.code == 0 {
		t.Fatalf("an upload into an unlinked index was acknowledged: %v", r)
	}
	line := oneLine(t, r)
	if !strings.Contains(line, "removed") || !strings.Contains(line, "index") {
		t.Errorf("the refusal does not say the index file was removed: %q", line)
	}
	if r := e.run(nil, "wasm", "rm", "kept@1.0.0"); r.code == 0 {
		t.Errorf("a removal from an unlinked index was acknowledged: %v", r)
	}
	rep, vr := e.verifyJSON()
	if vr.code != exitProblems {
		t.Errorf("verify with an unlinked index: want exit %d; %v", exitProblems, vr)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.Kind == repo.ProblemIndex && strings.Contains(p.Message, "removed"))
	}
	if !found {
		t.Errorf("verify does not report the unlinked index: %+v", rep.Problems)
	}
	// Reads go on from the open file.
	e.mustGet("kept", "1.0.0", kept)
	e.gpmd("kill")
}

// TestHardenFIFOBlobs (issue 16, point 9): FIFOs in place of blobs, 200
// concurrent GMP fetches and 200 HTTP gets: every one gets an error
// promptly (no thread pinned in open(2)), and `gpmd kill` is quick. Before
// the fix each fetch blocked in open(2) and kill took 25 s.
func TestHardenFIFOBlobs(t *testing.T) {
	e := newEnv(t)
	// 200 gets at once, over the default cap on control connections (128),
	// which would answer some of them busy instead of the error under test.
	st := e.start("--control-max-conns", "512")
	names := []string{"f1", "f2"}
	for _, n := range names {
		data := testutil.Wasm(n, 4000)
		e.upload(n, "1.0.0", data)
		p := e.blobPath(data)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	// A client of its own, whose connections are closed before the kill:
	// connections a client opened but never used count as busy for 5s in
	// net/http's Shutdown, which would hide what this test measures.
	hc := &http.Client{Transport: &http.Transport{}}
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			c, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
			if err != nil {
				errs <- fmt.Errorf("gmp dial %d: %w", i, err)
				return
			}
			defer c.Close()
			if _, err := c.Register(ctx, fmt.Sprintf("node-%d", i), fmt.Sprint(i), 40000+i, false); err != nil {
				errs <- fmt.Errorf("gmp register %d: %w", i, err)
				return
			}
			if _, _, err := c.ModuleBytes(ctx, names[i%2], ""); err == nil {
				errs <- fmt.Errorf("gmp fetch %d of a FIFO succeeded", i)
			} else if ctx.Err() != nil {
				errs <- fmt.Errorf("gmp fetch %d: no answer within the deadline", i)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			url := fmt.Sprintf("http://%s/v1/modules/%s/1.0.0/content", st.ControlAddr, names[i%2])
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				errs <- fmt.Errorf("http get %d: %w", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				errs <- fmt.Errorf("http get %d of a FIFO: 200", i)
			}
		}(i)
	}
	wg.Wait()
	hc.CloseIdleConnections()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	took := time.Since(start)
	t.Logf("%d GMP fetches and %d HTTP gets of FIFO blobs answered in %s", n, n, took)
	if took > 15*time.Second {
		t.Errorf("answers took %s", took)
	}
	killStart := time.Now()
	e.gpmd("kill")
	if d := time.Since(killStart); d > 5*time.Second {
		log, _ := os.ReadFile(filepath.Join(e.dir, "gpmd.log"))
		t.Errorf("gpmd kill took %s; log:\n%s", d, log)
	}
}

// TestHardenRemovedVersionImmutable (issue 16, point 21): after `wasm rm`,
// the same bytes may come back under the version, other bytes are refused
// (exit 5, conflict) and the tombstone survives a rebuild of the index
// from the mirror; rebuild-index keeps each version's created time; and
// `wasm rm --forget` lets other bytes in on purpose.
func TestHardenRemovedVersionImmutable(t *testing.T) {
	e := newEnv(t)
	e.start()
	orig := testutil.Wasm("orig", 3000)
	other := testutil.Wasm("other", 3000)
	e.upload("imm", "1.0.0", orig)
	e.upload("imm", "2.0.0", other)
	e.gpmd("wasm", "rm", "imm@1.0.0")
	r := e.run(nil, "wasm", "upload", "--name", "imm", "--version", "1.0.0", "--file", e.file("other.wasm", other))
	if r.code != 5 {
		t.Fatalf("upload of other bytes under a removed version: want exit 5 (conflict); %v", r)
	}
	if line := oneLine(t, r); !strings.Contains(line, "removed") {
		t.Errorf("the refusal does not say the version was removed: %q", line)
	}
	// The same bytes come back; remove again for the rebuild below.
	e.upload("imm", "1.0.0", orig)
	e.mustGet("imm", "1.0.0", orig)
	e.gpmd("wasm", "rm", "imm@1.0.0")
	before := e.listJSON()
	e.gpmd("kill")

	// Rebuild the index from the mirror: the tombstone and the created
	// times come back.
	if err := os.Remove(filepath.Join(e.dir, "modules", "index.db")); err != nil {
		t.Fatal(err)
	}
	e.gpmd("rebuild-index")
	e.start()
	after := e.listJSON()
	if len(after) != 1 || len(before) != 1 || len(after[0].Versions) != 1 || !after[0].Versions[0].Created.Equal(before[0].Versions[0].Created) {
		t.Errorf("rebuild-index changed the list or the created time:\nbefore %+v\nafter  %+v", before, after)
	}
	r = e.run(nil, "wasm", "upload", "--name", "imm", "--version", "1.0.0", "--file", e.file("other.wasm", other))
	if r.code != 5 {
		t.Errorf("after rebuild-index, other bytes under the removed version: want exit 5; %v", r)
	}
	e.upload("imm", "1.0.0", orig)
	// --forget breaks the rule on purpose: other bytes may come.
	e.gpmd("wasm", "rm", "--forget", "imm@1.0.0")
	e.upload("imm", "1.0.0", other)
	e.mustGet("imm", "1.0.0", other)
	e.gpmd("verify")
	e.gpmd("kill")
}

// TestHardenStartWithNoSpaceAtAll: issue 16 point 3 when not one byte is
// free: the start-up write check and the state file meet ENOSPC. The daemon
// starts all the same (warning in its log), serves what it holds at its
// configured address, and rm and gc work, so the operator has a way out.
func TestHardenStartWithNoSpaceAtAll(t *testing.T) {
	mnt := mountTmpfs(t, "4m")
	e := newEnv(t)
	e.dir = filepath.Join(mnt, "data")
	e.start()
	mod := testutil.Wasm("kept", 300<<10)
	e.upload("kept", "1.0.0", mod)
	e.gpmd("kill")

	filler := filepath.Join(mnt, "filler")
	fillDisk(t, filler, 8<<20)
	// Fixed ports: with no state file the client commands find the daemon
	// only at the address they are given.
	ctl := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gmpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r := e.run(nil, "start", "--control-addr", ctl, "--gmp-addr", gmpAddr)
	if r.code != 0 {
		t.Fatalf("start with no space at all: %v", r)
	}
	t.Cleanup(func() { e.run(nil, "kill", "--control-addr", ctl) })
	if got := e.run(nil, "wasm", "get", "kept@1.0.0", "--control-addr", ctl); got.code != 0 || got.stdout != string(mod) {
		t.Fatalf("get on the full disk: code %d, %d bytes (want %d)", got.code, len(got.stdout), len(mod))
	}
	if got := e.run(nil, "wasm", "rm", "kept@1.0.0", "--control-addr", ctl); got.code != 0 {
		t.Fatalf("rm on the full disk: %v", got)
	}
	if got := e.run(nil, "gc", "--control-addr", ctl); got.code != 0 {
		t.Fatalf("gc on the full disk: %v", got)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if got := e.run(nil, "kill", "--control-addr", ctl); got.code != 0 {
		t.Fatalf("kill: %v", got)
	}
}
