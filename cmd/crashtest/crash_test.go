package crashtest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	// The campaign drives the gpmd binary it builds; importing the CLI ties
	// go test's cache to the CLI's code, so a change to it reruns the test.
	_ "github.com/ghost-network/gpmd/cmd/cli"
	"github.com/ghost-network/gpmd/internal/testutil"
)

var (
	rounds  = flag.Int("rounds", 3, "kill -9 rounds (make crashtest runs 100)")
	seedArg = flag.Uint64("seed", 0, "random seed (0: from the clock)")
	workers = flag.Int("workers", 3, "concurrent clients during a round")
)

var gpmdBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "gpmd-crashtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// gpmd and the gpmd-daemon it hands the daemon to, side by side.
	gpmdBin = filepath.Join(dir, "gpmd")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "github.com/ghost-network/gpmd/cmd/gpmd", "github.com/ghost-network/gpmd/cmd/gpmd-daemon")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gpmd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is one data folder and the addresses its daemon runs on.
type daemon struct {
	t       *testing.T
	data    string
	files   string // where uploads by descriptor write their files
	control string
	gmp     string
	pid     int
}

// freeAddr picks a free loopback port for the whole campaign, so every
// restart serves on the same addresses.
func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// gpmd runs the CLI against this daemon over TCP (GPMD_CONTROL_ADDR)
// and returns its output and exit status.
func (d *daemon) gpmd(stdin []byte, args ...string) (stdout, stderr string, code int) {
	env := append(os.Environ(), "GPMD_HOME="+d.data, "GPMD_CONTROL_ADDR="+d.control, "GPMD_GMP_ADDR="+d.gmp)
	return d.run(env, stdin, args...)
}

// gpmdSocket runs the CLI without GPMD_CONTROL_ADDR, so that it talks to
// the daemon over the data folder's Unix socket.
func (d *daemon) gpmdSocket(args ...string) (stdout, stderr string, code int) {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GPMD_") {
			env = append(env, kv)
		}
	}
	return d.run(append(env, "GPMD_HOME="+d.data), nil, args...)
}

// run runs the CLI with env and stdin (nil: none). Every call is bounded
// by a timeout.
func (d *daemon) run(env []string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gpmdBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return out.String(), errb.String(), code
}

var pidLine = regexp.MustCompile(`pid:\s+(\d+)`)

func (d *daemon) start() {
	d.t.Helper()
	out, errOut, code := d.gpmd(nil, "start")
	m := pidLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		d.t.Fatalf("gpmd start: exit %d\n%s%s", code, out, errOut)
	}
	d.pid, _ = strconv.Atoi(m[1])
}

// killHard sends SIGKILL and waits (bounded) until the process is gone.
// The daemon is not our child (it runs in its own session), so "gone"
// includes a zombie nobody has reaped yet.
func (d *daemon) killHard() {
	d.t.Helper()
	syscall.Kill(d.pid, syscall.SIGKILL)
	if testutil.Eventually(5*time.Second, func() bool { return !alive(d.pid) }) {
		return
	}
	d.t.Fatalf("daemon pid %d still alive 5 s after SIGKILL", d.pid)
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ledger is what the clients saw, across rounds.
type ledger struct {
	mu sync.Mutex
	// acked: name@version → digest, for uploads that returned success and
	// were not removed since.
	acked map[string]string
	// uncertain: versions whose remove was under way at a kill: they may be
	// there or not, but if there, with the acknowledged digest.
	uncertain map[string]string
	nAcked    int
	problems  []string
}

func (l *ledger) problem(format string, args ...any) {
	l.mu.Lock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func TestKillNineCampaign(t *testing.T) {
	seed := *seedArg
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	d := &daemon{t: t, data: t.TempDir(), files: t.TempDir(), control: freeAddr(t), gmp: freeAddr(t)}
	led := &ledger{acked: map[string]string{}, uncertain: map[string]string{}}
	checked := 0
	t.Cleanup(func() {
		if d.pid != 0 && alive(d.pid) {
			syscall.Kill(d.pid, syscall.SIGKILL)
		}
	})

	for round := range *rounds {
		d.start()
		ctx, stopClients := context.WithCancel(context.Background())
		var killed atomic.Bool // set just before the SIGKILL: failures after it are expected
		var wg sync.WaitGroup
		var inflightMu sync.Mutex
		inflightRm := map[string]string{}
		for w := range *workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wrng := rand.New(rand.NewPCG(seed+uint64(round*100+w), 3))
				for i := 0; i < 10_000 && ctx.Err() == nil; i++ {
					switch op := wrng.IntN(10); {
					case op < 6: // upload; every fifth reuses shared bytes
						size := 16 + wrng.IntN(256<<10)
						content := wrng.Uint64()
						if op == 0 {
							content, size = 7, 5000
						}
						data := testutil.Wasm(fmt.Sprint(content), size)
						name := fmt.Sprintf("m%d", wrng.IntN(4))
						version := fmt.Sprintf("v%d.%d.%d", round, w, i)
						// Half of the uploads send their bytes over TCP
						// (standard input); the other half pass a file
						// over the Unix socket (by descriptor).
						var errOut string
						var code int
						if i%2 == 0 {
							_, errOut, code = d.gpmd(data, "wasm", "upload", "--name", name, "--version", version, "--file", "-")
						} else {
							path := filepath.Join(d.files, fmt.Sprintf("w%d-%d.wasm", w, i))
							if err := os.WriteFile(path, data, 0o600); err != nil {
								led.problem("round %d: writing %s: %v", round, path, err)
								continue
							}
							_, errOut, code = d.gpmdSocket("wasm", "upload", "--name", name, "--version", version, "--file", path)
							os.Remove(path)
						}
						if code == 0 {
							led.mu.Lock()
							led.acked[name+"@"+version] = digestOf(data)
							led.nAcked++
							led.mu.Unlock()
						} else if !killed.Load() {
							led.problem("round %d: upload %s@%s failed while the daemon ran: exit %d: %s", round, name, version, code, errOut)
						}
					case op < 9: // get one acknowledged version and compare
						key, want := led.pick(wrng)
						if key == "" {
							continue
						}
						out, _, code := d.gpmd(nil, "wasm", "get", key)
						if code == 0 && digestOf([]byte(out)) != want {
							led.problem("round %d: get %s returned bytes with digest %s, want %s", round, key, digestOf([]byte(out)), want)
						}
					default: // remove one
						key, want := led.pick(wrng)
						if key == "" {
							continue
						}
						inflightMu.Lock()
						inflightRm[key] = want
						inflightMu.Unlock()
						_, _, code := d.gpmd(nil, "wasm", "rm", key)
						if code == 0 {
							led.mu.Lock()
							delete(led.acked, key)
							led.mu.Unlock()
							inflightMu.Lock()
							delete(inflightRm, key)
							inflightMu.Unlock()
						}
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		killed.Store(true)
		d.killHard()
		stopClients()
		wg.Wait()
		// A remove that did not report success may or may not have landed.
		led.mu.Lock()
		for key, dg := range inflightRm {
			if _, ok := led.acked[key]; ok {
				delete(led.acked, key)
				led.uncertain[key] = dg
			}
		}
		led.mu.Unlock()

		d.checkBlobFiles(led, round)
		d.start()
		checked += d.checkAfterRestart(led, round)
		if round == *rounds-1 {
			d.gpmd(nil, "kill")
		} else {
			d.killHard() // an idle kill between rounds: the next start must cope
		}
	}
	t.Logf("rounds: %d, uploads acknowledged: %d, uploads checked: %d, problems found: %d",
		*rounds, led.nAcked, checked, len(led.problems))
	fmt.Printf("crashtest: rounds=%d uploads_acknowledged=%d uploads_checked=%d problems=%d\n",
		*rounds, led.nAcked, checked, len(led.problems))
	for _, p := range led.problems {
		t.Error(p)
	}
	if led.nAcked == 0 {
		t.Fatal("no upload was acknowledged: the campaign did not exercise the daemon")
	}
}

// pick returns a random acknowledged version.
func (l *ledger) pick(rng *rand.Rand) (key, digest string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := rng.IntN(len(l.acked) + 1)
	for k, v := range l.acked {
		if n == 0 {
			return k, v
		}
		n--
	}
	return "", ""
}

// checkBlobFiles hashes every file under blobs/ while the daemon is down.
func (d *daemon) checkBlobFiles(led *ledger, round int) {
	root := filepath.Join(d.data, "modules", "blobs")
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			led.problem("round %d: %v", round, err)
		} else if got := digestOf(data); filepath.Dir(p) != filepath.Join(root, "sha256") || "sha256:"+e.Name() != got {
			led.problem("round %d: partial or stray file under blobs/: %s (hashes to %s)", round, p, got)
		}
		return nil
	})
}

// listing is what gpmd wasm list -o json prints.
type listing struct {
	Modules []struct {
		Name     string `json:"name"`
		Versions []struct {
			Version string `json:"version"`
			Digest  string `json:"digest"`
			Size    int64  `json:"size"`
		} `json:"versions"`
	} `json:"modules"`
}

// checkAfterRestart checks the restarted daemon's store and returns how
// many acknowledged uploads it checked.
func (d *daemon) checkAfterRestart(led *ledger, round int) int {
	out, errOut, code := d.gpmd(nil, "wasm", "list", "-o", "json")
	if code != 0 {
		led.problem("round %d: list after restart: exit %d: %s", round, code, errOut)
		return 0
	}
	var l listing
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		led.problem("round %d: list -o json does not parse: %v", round, err)
		return 0
	}
	have := map[string]string{}
	for _, m := range l.Modules {
		for _, v := range m.Versions {
			have[m.Name+"@"+v.Version] = v.Digest
		}
	}
	led.mu.Lock()
	checked := 0
	for key, want := range led.acked {
		checked++
		if got, ok := have[key]; !ok {
			led.problems = append(led.problems, fmt.Sprintf("round %d: acknowledged upload %s is lost", round, key))
		} else if got != want {
			led.problems = append(led.problems, fmt.Sprintf("round %d: %s has digest %s, acknowledged %s", round, key, got, want))
		}
	}
	for key, want := range led.uncertain {
		if got, ok := have[key]; ok && got != want {
			led.problems = append(led.problems, fmt.Sprintf("round %d: %s has digest %s, acknowledged %s", round, key, got, want))
		}
		if _, ok := have[key]; ok {
			led.acked[key] = want
		}
		delete(led.uncertain, key)
	}
	led.mu.Unlock()

	// The mirror: rebuilt at open, so right after a restart it equals the index.
	raw, err := os.ReadFile(filepath.Join(d.data, "modules", "ghost.modules.json"))
	if err != nil {
		led.problem("round %d: mirror: %v", round, err)
	} else {
		var mirror map[string]struct {
			Versions map[string]struct {
				Digest string `json:"digest"`
			} `json:"versions"`
		}
		if err := json.Unmarshal(raw, &mirror); err != nil {
			led.problem("round %d: mirror does not parse: %v", round, err)
		}
		n := 0
		for name, m := range mirror {
			for v, e := range m.Versions {
				n++
				if have[name+"@"+v] != e.Digest {
					led.problem("round %d: mirror says %s@%s is %s, the index %q", round, name, v, e.Digest, have[name+"@"+v])
				}
			}
		}
		if n != len(have) {
			led.problem("round %d: mirror lists %d versions, the index %d", round, n, len(have))
		}
	}
	if left, _ := os.ReadDir(filepath.Join(d.data, "modules", "ingest")); len(left) != 0 {
		led.problem("round %d: %d leftovers in ingest/ after restart", round, len(left))
	}
	if out, errOut, code := d.gpmd(nil, "verify"); code != 0 {
		led.problem("round %d: gpmd verify exit %d:\n%s%s", round, code, out, errOut)
	}
	return checked
}
