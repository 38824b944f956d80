package repo_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

var (
	crashRounds = flag.Int("crash.rounds", 12, "rounds of the SIGKILL crash test")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of the crash test (0: from the clock)")
)

const crashChildEnv = "GPMD_REPO_CRASH_CHILD_DIR"

// TestMain runs the crash child instead of the tests when the crash test
// starts this binary as its child.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild is the process that TestCrashDuringUploads kills: it uploads
// modules to the repository in dir until it is killed and prints one ACK
// line after each upload that returned success.
func crashChild(dir string) {
	r, err := repo.Open(context.Background(), dir, repo.Options{MirrorDelay: time.Millisecond})
	if err != nil {
		fmt.Printf("OPENFAIL %v\n", err)
		os.Exit(3)
	}
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	for i := 0; i < 1_000_000; i++ { // bounded; the parent kills it long before
		// Sizes from tiny to a few MiB, so kills land inside long writes too;
		// every tenth upload repeats bytes already stored (the dedupe path).
		size := 8 + rng.IntN(64<<10)
		if rng.IntN(8) == 0 {
			size = 1<<20 + rng.IntN(3<<20)
		}
		content := rng.Uint64()
		if i%10 == 9 {
			content, size = 42, 4096
		}
		data := testutil.Wasm(fmt.Sprint(content), size)
		name := fmt.Sprintf("m%d", rng.IntN(5))
		version := fmt.Sprintf("v%d.%d.%d", seed%1000, i, rng.IntN(1000))
		rec, err := r.Upload(context.Background(), index.MustRef(name, version), bytes.NewReader(data), "")
		if err != nil {
			fmt.Printf("FAIL %s@%s %v\n", name, version, err)
			continue
		}
		fmt.Printf("ACK %s %s %s %d\n", rec.Name, rec.Version, rec.Digest, rec.Size)
	}
}

// TestCrashDuringUploads kills a process that uploads with SIGKILL at random
// moments, again and again on the same folder, and checks after each kill
// that every upload that returned success is there and intact, and that
// nothing half-written is visible.
func TestCrashDuringUploads(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	type ack struct {
		name, version string
		digest        digest.Digest
		size          int64
	}
	var acked []ack
	for round := range *crashRounds {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let it open the store and upload a while: kill within 20-400 ms
		// after the first acknowledged upload.
		var killAt <-chan time.Time
		deadline := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited by itself: %v", round, cmd.Wait())
				}
				f := strings.Fields(line)
				switch f[0] {
				case "ACK":
					var size int64
					fmt.Sscan(f[4], &size)
					acked = append(acked, ack{f[1], f[2], digest.Digest(f[3]), size})
					if killAt == nil {
						killAt = time.After(time.Duration(20+rng.IntN(380)) * time.Millisecond)
					}
				case "OPENFAIL":
					t.Fatalf("round %d: the store does not reopen after a kill: %s", round, line)
				case "FAIL":
					t.Errorf("round %d: %s", round, line)
				}
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				done = true
			case <-deadline:
				cmd.Process.Kill()
				t.Fatalf("round %d: no progress within 30 s", round)
			}
		}
		// ACKs already written to the pipe count: they were acknowledged.
		for line := range lines {
			if f := strings.Fields(line); len(f) == 5 && f[0] == "ACK" {
				var size int64
				fmt.Sscan(f[4], &size)
				acked = append(acked, ack{f[1], f[2], digest.Digest(f[3]), size})
			}
		}
		cmd.Wait()

		// Nothing half-written in blobs/: every file is complete, named by
		// the digest of its bytes (backup tools copy this folder live).
		checkBlobFiles(t, dir)
		r, err := repo.Open(t.Context(), dir, repo.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		for _, a := range acked {
			rec, rd, err := r.Get(t.Context(), a.name, a.version)
			if err != nil {
				t.Fatalf("round %d: acknowledged %s@%s lost: %v", round, a.name, a.version, err)
			}
			n, err := io.Copy(io.Discard, rd)
			rd.Close()
			if err != nil || rec.Digest != a.digest || n != a.size {
				t.Fatalf("round %d: acknowledged %s@%s damaged: %d bytes, %s, %v", round, a.name, a.version, n, rec.Digest, err)
			}
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "ingest")); len(left) != 0 {
			t.Errorf("round %d: %d leftovers in ingest/ after open", round, len(left))
		}
		mods, _ := r.List(t.Context(), "")
		compareMirror(t, dir, mods)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds, %d acknowledged uploads checked", *crashRounds, len(acked))
	if len(acked) < *crashRounds {
		t.Fatalf("only %d acknowledged uploads in %d rounds: the test did not exercise uploads", len(acked), *crashRounds)
	}
}

// checkBlobFiles hashes every file under blobs/ and checks its name.
func checkBlobFiles(t *testing.T, dir string) {
	t.Helper()
	root := filepath.Join(dir, "blobs")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if !strings.HasPrefix(rel, "sha256"+string(filepath.Separator)) {
			t.Errorf("stray file in blobs/: %s", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			return nil
		}
		if got := digest.FromBytes(data).Encoded(); got != d.Name() {
			t.Errorf("partial or wrong blob file %s: its bytes hash to %s", rel, got)
		}
		return nil
	})
}
