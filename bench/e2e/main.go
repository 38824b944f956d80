// Command e2e is the end-to-end benchmark of issue 15 (make bench-e2e): real
// gpmd processes against minimal baselines, measured in one run.
//
// Each comparison runs in pairs: within a pair the two sides take turns
// file by file (or request batch by batch), the side that goes first
// alternating, so drift in the machine's load falls on both. A pair's
// ratio is gpmd's throughput over the baseline's (for start-up: gpmd's
// time over the baseline's); each line prints the median of the pairs and
// their min–max, beside the target of issue 15.
//
//   - upload 1 MiB, 16 MiB, 32 MB: `gpmd wasm upload` as a process per file
//     against bench/e2e/ingest as a process per file (read, SHA-256, write,
//     fsync, rename, fsync of the folder). 32 MB is ffmpeg-core.wasm (make
//     wasm-fixtures) with a small custom section appended, so that every
//     file is new bytes.
//   - upload 8 at once: eight CLI processes with a 1 MiB file each against
//     eight ingest processes.
//   - fetch 16 MiB: GMP MODULE from the daemon against bench/e2e/b64server,
//     which writes a reply of the same shape from memory.
//   - discover x64, connect x64: DISCOVER (or CONNECT) round trips over 64
//     GMP connections, each registered as a node, against
//     bench/e2e/echoserver over 64 connections given the same requests.
//   - version start: `gpmd version` against bench/e2e/hello.
//
// The baseline servers run in a session of their own, as `gpmd start`
// puts the daemon (see server): with autogroup scheduling a server in the
// client's session costs less CPU per request than the same server in
// another, which the comparison would otherwise measure.
//
// Everything runs on 127.0.0.1, in a work folder on a real disk (a tmpfs is
// refused: it says nothing about fsync). Before measuring, -prewrite bytes
// are written to the disk and deleted, because on these VMs a block never
// written before is several times slower to write. The daemon and the
// baseline servers are stopped at the end, and the work folder removed
// (-keep keeps it).
//
//	go run ./bench/e2e -gpmd bin/gpmd [flags]
//
// make build puts gpmd and gpmd-daemon side by side in bin/: gpmd hands
// the daemon (gpmd start) to the gpmd-daemon beside it, so -gpmd must name
// a gpmd with its gpmd-daemon in the same folder.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// options are the flags.
type options struct {
	gpmd     string
	dir      string
	ffmpeg   string
	prewrite int64
	pairs    int
	files1M  int
	files16M int
	files32M int
	rounds8  int
	fetches  int
	requests int
	starts   int
	only     string
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.gpmd, "gpmd", "bin/gpmd", "the gpmd binary to measure, gpmd-daemon beside it (make build)")
	flag.StringVar(&o.dir, "dir", "", "the folder to work under: the run makes a new folder in it and removes only that (default: ./bin, else $TMPDIR); never a tmpfs")
	flag.StringVar(&o.ffmpeg, "ffmpeg", "", "ffmpeg-core.wasm (default: the make wasm-fixtures cache)")
	flag.Int64Var(&o.prewrite, "prewrite", 2<<30, "bytes written to the disk and deleted before measuring (0: none)")
	flag.IntVar(&o.pairs, "pairs", 5, "pairs per comparison; each ratio is their median")
	flag.IntVar(&o.files1M, "files-1m", 16, "1 MiB files per side per pair")
	flag.IntVar(&o.files16M, "files-16m", 3, "16 MiB files per side per pair")
	flag.IntVar(&o.files32M, "files-32m", 2, "32 MB files per side per pair")
	flag.IntVar(&o.rounds8, "rounds-8", 3, "rounds of eight concurrent uploads per side per pair")
	flag.IntVar(&o.fetches, "fetches", 4, "16 MiB fetches per side per pair")
	flag.IntVar(&o.requests, "requests", 10000, "DISCOVER/CONNECT requests per side per pair")
	flag.IntVar(&o.starts, "starts", 40, "process starts per side per pair")
	flag.StringVar(&o.only, "only", "", "run only the comparisons whose name matches this regular expression")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

// bench is one run: its folders, binaries and the daemon.
type bench struct {
	o       options
	ctx     context.Context
	work    string // the work folder
	binDir  string // the baselines' binaries
	data    string // the daemon's data folder
	ingest  string // the ingest baseline's folder
	files   string // the files uploaded
	gmpAddr string
	rnd     *rand.Rand
	seq     int    // numbers module names
	ffmpeg  []byte // ffmpeg-core.wasm, once read
}

func run(o options) (err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var only *regexp.Regexp
	if o.only != "" {
		if only, err = regexp.Compile(o.only); err != nil {
			return fmt.Errorf("-only: %w", err)
		}
	}
	if o.pairs < 1 {
		return errors.New("-pairs must be at least 1")
	}
	gpmd, err := filepath.Abs(o.gpmd)
	if err != nil {
		return err
	}
	if _, err := os.Stat(gpmd); err != nil {
		return fmt.Errorf("%w (make build first, or give -gpmd)", err)
	}
	o.gpmd = gpmd

	work, err := workFolder(o.dir)
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(work)
	}
	b := &bench{o: o, ctx: ctx, work: work, rnd: rand.New(rand.NewPCG(1, 2))}
	b.binDir = filepath.Join(work, "bin")
	b.data = filepath.Join(work, "data")
	b.ingest = filepath.Join(work, "ingest")
	b.files = filepath.Join(work, "files")
	for _, d := range []string{b.binDir, b.data, b.ingest, b.files} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	fmt.Printf("bench-e2e: gpmd %s\n  work folder %s (%s)\n  load average %s (the machine may be shared: read the ratios with it)\n",
		gpmd, work, fsDescription(work), loadAvg())

	if err := b.buildBaselines(); err != nil {
		return err
	}
	if err := prewrite(ctx, work, o.prewrite); err != nil {
		return err
	}
	if err := b.startDaemon(); err != nil {
		return err
	}
	defer b.stopDaemon()

	comparisons := []struct {
		name string
		run  func() (result, error)
	}{
		{"upload 1 MiB", func() (result, error) { return b.uploadEach("upload 1 MiB", 0.75, o.files1M, 1<<20) }},
		{"upload 16 MiB", func() (result, error) { return b.uploadEach("upload 16 MiB", 0.85, o.files16M, 16<<20) }},
		{"upload 32 MB ffmpeg-core", func() (result, error) { return b.uploadEach("upload 32 MB ffmpeg-core", 0.85, o.files32M, -1) }},
		{"upload 8 at once 1 MiB", b.uploadEight},
		{"fetch 16 MiB", b.fetch},
		{"discover x64", func() (result, error) { return b.roundTrips("discover x64", false) }},
		{"connect x64", func() (result, error) { return b.roundTrips("connect x64", true) }},
		{"version start", b.versionStart},
	}
	for _, c := range comparisons {
		if only != nil && !only.MatchString(c.name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := c.run()
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		fmt.Println(r)
	}
	fmt.Printf("load average at the end %s\n", loadAvg())
	return nil
}

// result is one comparison's pairs.
type result struct {
	name   string
	ratios []float64
	target float64
	atMost bool   // the target is a ceiling (start-up time), not a floor
	detail string // the sides' own figures, from the last pair
}

func (r result) String() string {
	s := slices.Clone(r.ratios)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	cmp, ok := ">=", med >= r.target
	if r.atMost {
		cmp, ok = "<=", med <= r.target
	}
	verdict := "MET"
	if !ok {
		verdict = "NOT MET"
	}
	return fmt.Sprintf("%-26s ratio %.3f (min %.2f, max %.2f, %d pairs)  target %s %.2f %-7s  %s",
		r.name, med, s[0], s[len(s)-1], len(s), cmp, r.target, verdict, r.detail)
}

// workFolder makes a new folder to work in, under parent (default: ./bin,
// else $TMPDIR), and refuses a tmpfs. The run removes only the folder it
// made, never parent: -dir may name a folder that holds other things.
func workFolder(parent string) (string, error) {
	if parent == "" {
		parent = "bin"
		if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
			parent = os.TempDir()
		}
	} else if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, "bench-e2e-")
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		os.Remove(dir)
		return "", err
	}
	switch st.Type {
	case tmpfsMagic, ramfsMagic:
		os.Remove(dir)
		return "", fmt.Errorf("%s is on a tmpfs or ramfs: its fsync costs nothing, so the figures would say nothing about a disk; give -dir on the disk of the data folder", parent)
	}
	return dir, nil
}

const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// fsDescription names the filesystem dir is on, from /proc/self/mountinfo.
func fsDescription(dir string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "filesystem unknown"
	}
	best, desc := "", "filesystem unknown"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		mnt := f[4]
		if (dir == mnt || strings.HasPrefix(dir, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) > len(best) {
			best, desc = mnt, f[sep+1]+" "+f[sep+2]+" on "+mnt
		}
	}
	return desc
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// buildBaselines builds the baseline programs (bench/e2e/...) into binDir.
func (b *bench) buildBaselines() error {
	for _, p := range []string{"ingest", "b64server", "echoserver", "hello"} {
		cmd := exec.CommandContext(b.ctx, "go", "build", "-o", filepath.Join(b.binDir, p), "./bench/e2e/"+p)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building the baseline %s: %w", p, err)
		}
	}
	return nil
}

// prewrite writes n bytes to a file in dir, fsyncs and deletes it.
func prewrite(ctx context.Context, dir string, n int64) error {
	if n <= 0 {
		return nil
	}
	start := time.Now()
	p := filepath.Join(dir, "prewrite")
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer os.Remove(p)
	defer f.Close()
	buf := make([]byte, 8<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
	}
	for w := int64(0); w < n; w += int64(len(buf)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := f.Write(buf[:min(int64(len(buf)), n-w)]); err != nil {
			return fmt.Errorf("prewrite: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return err
	}
	fmt.Printf("  prewrote %d MiB in %v\n", n>>20, time.Since(start).Round(time.Millisecond))
	return nil
}

// gpmdCmd is a gpmd command on the bench's data folder.
func (b *bench) gpmdCmd(args ...string) *exec.Cmd {
	cmd := exec.CommandContext(b.ctx, b.o.gpmd, append([]string{"--data-dir", b.data}, args...)...)
	// Nothing from the caller's environment points it elsewhere.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GPMD_") })
	return cmd
}

func (b *bench) startDaemon() error {
	out, err := b.gpmdCmd("start", "--control-addr", "127.0.0.1:0", "--gmp-addr", "127.0.0.1:0").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gpmd start: %w: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "gmp:"); ok {
			b.gmpAddr = strings.TrimSpace(rest)
		}
	}
	if b.gmpAddr == "" {
		b.stopDaemon()
		return fmt.Errorf("gpmd start printed no gmp address: %s", out)
	}
	return nil
}

// stopDaemon stops the daemon; it runs even when the run was interrupted.
func (b *bench) stopDaemon() {
	cmd := exec.Command(b.o.gpmd, "--data-dir", b.data, "kill", "--timeout", "30s")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "bench-e2e: gpmd kill: %v: %s", err, out)
	}
}

// module returns a new structurally valid WebAssembly module of size bytes
// (base, when not nil, then a custom section "bench" of random bytes), so
// that no upload is the duplicate of another.
func (b *bench) module(base []byte, size int) []byte {
	if base == nil {
		base = []byte("\x00asm\x01\x00\x00\x00")
	}
	const name = "bench"
	// id, 5-byte padded size, name length, name
	fixed := len(base) + 1 + 5 + 1 + len(name)
	payload := max(size-fixed, 16)
	out := make([]byte, 0, fixed+payload)
	out = append(out, base...)
	out = append(out, 0x00)
	n := uint32(1 + len(name) + payload)
	for i := range 4 {
		out = append(out, byte(n>>(7*i))&0x7f|0x80)
	}
	out = append(out, byte(n>>28))
	out = append(out, byte(len(name)))
	out = append(out, name...)
	p := out[len(out) : len(out)+payload]
	for i := 0; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], b.rnd.Uint64())
	}
	return out[:len(out)+payload]
}

// writeFiles writes n new modules of size bytes (size < 0: ffmpeg-core.wasm
// plus a custom section) and returns their paths.
func (b *bench) writeFiles(n, size int) ([]string, error) {
	var base []byte
	if size < 0 {
		if b.ffmpeg == nil {
			p := b.o.ffmpeg
			if p == "" {
				p = filepath.Join(fixtureCache(), "ffmpeg-core.wasm")
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("%w (run make wasm-fixtures, or give -ffmpeg)", err)
			}
			b.ffmpeg = data
		}
		base, size = b.ffmpeg, 0
	}
	paths := make([]string, n)
	for i := range paths {
		b.seq++
		paths[i] = filepath.Join(b.files, fmt.Sprintf("m%05d.wasm", b.seq))
		if err := os.WriteFile(paths[i], b.module(base, size), 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// fixtureCache is where scripts/wasm-fixtures.sh puts the real modules (as
// wasm/internal/wasmtest.CacheDir, which this command cannot import).
func fixtureCache() string {
	if d := os.Getenv("GPMD_TEST_CACHE"); d != "" {
		return filepath.Join(d, "wasm")
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "gpmd-test", "wasm")
}

// clean removes a step's files and what the ingest baseline wrote, so
// that a run holds a few GiB at most; the daemon keeps its blobs.
func (b *bench) clean(files []string) {
	for _, f := range files {
		os.Remove(f)
	}
	entries, _ := os.ReadDir(b.ingest)
	for _, e := range entries {
		os.Remove(filepath.Join(b.ingest, e.Name()))
	}
}

// uploadCmd is `gpmd wasm upload` of file as a new module version.
func (b *bench) uploadCmd(file string) *exec.Cmd {
	name := "b" + strings.TrimSuffix(filepath.Base(file), ".wasm")
	return b.gpmdCmd("wasm", "upload", "--name", name, "--version", "v1.0.0", "--file", file)
}

func (b *bench) ingestCmd(file string) *exec.Cmd {
	return exec.CommandContext(b.ctx, filepath.Join(b.binDir, "ingest"), b.ingest, file)
}

// timed runs the commands at once and returns the time until all ended.
func timed(cmds ...*exec.Cmd) (time.Duration, error) {
	outs := make([]bytes.Buffer, len(cmds))
	start := time.Now()
	for i, c := range cmds {
		c.Stdout, c.Stderr = &outs[i], &outs[i]
		if err := c.Start(); err != nil {
			return 0, err
		}
	}
	var first error
	for i, c := range cmds {
		if err := c.Wait(); err != nil && first == nil {
			first = fmt.Errorf("%s: %w: %s", strings.Join(c.Args, " "), err, strings.TrimSpace(outs[i].String()))
		}
	}
	return time.Since(start), first
}

// pairs runs one comparison: fn(gpmdFirst) measures one step of both
// sides, in the order given, and returns their times; a pair is steps
// steps, and the side that goes first alternates from step to step.
func (b *bench) pairs(steps int, fn func(gpmdFirst bool) (g, base time.Duration, err error)) (ratios []float64, g, base time.Duration, err error) {
	for p := 0; p < b.o.pairs; p++ {
		g, base = 0, 0
		for s := 0; s < steps; s++ {
			if err := b.ctx.Err(); err != nil {
				return nil, 0, 0, err
			}
			dg, db, err := fn((p+s)%2 == 0)
			if err != nil {
				return nil, 0, 0, err
			}
			g += dg
			base += db
		}
		ratios = append(ratios, base.Seconds()/g.Seconds())
	}
	return ratios, g, base, nil
}

// both runs gpmd's side and the baseline's in the order given.
func both(gpmdFirst bool, gside, bside func() (time.Duration, error)) (g, base time.Duration, err error) {
	if gpmdFirst {
		if g, err = gside(); err != nil {
			return
		}
		base, err = bside()
		return
	}
	if base, err = bside(); err != nil {
		return
	}
	g, err = gside()
	return
}

func perFile(d time.Duration, n int) string {
	return (d / time.Duration(n)).Round(10 * time.Microsecond).String()
}

// uploadEach: a process per file, one at a time.
func (b *bench) uploadEach(name string, target float64, files, size int) (result, error) {
	ratios, g, base, err := b.pairs(files, func(gpmdFirst bool) (time.Duration, time.Duration, error) {
		fs, err := b.writeFiles(2, size)
		if err != nil {
			return 0, 0, err
		}
		defer b.clean(fs)
		return both(gpmdFirst,
			func() (time.Duration, error) { return timed(b.uploadCmd(fs[0])) },
			func() (time.Duration, error) { return timed(b.ingestCmd(fs[1])) })
	})
	if err != nil {
		return result{}, err
	}
	return result{name: name, ratios: ratios, target: target,
		detail: "per file: gpmd " + perFile(g, files) + ", ingest " + perFile(base, files)}, nil
}

// uploadEight: eight processes at once, 1 MiB each.
func (b *bench) uploadEight() (result, error) {
	const n = 8
	ratios, g, base, err := b.pairs(b.o.rounds8, func(gpmdFirst bool) (time.Duration, time.Duration, error) {
		fs, err := b.writeFiles(2*n, 1<<20)
		if err != nil {
			return 0, 0, err
		}
		defer b.clean(fs)
		gc, bc := make([]*exec.Cmd, n), make([]*exec.Cmd, n)
		for i := range n {
			gc[i], bc[i] = b.uploadCmd(fs[i]), b.ingestCmd(fs[n+i])
		}
		return both(gpmdFirst,
			func() (time.Duration, error) { return timed(gc...) },
			func() (time.Duration, error) { return timed(bc...) })
	})
	if err != nil {
		return result{}, err
	}
	return result{name: "upload 8 at once 1 MiB", ratios: ratios, target: 0.85,
		detail: "per round of 8: gpmd " + perFile(g, b.o.rounds8) + ", ingest " + perFile(base, b.o.rounds8)}, nil
}

// server starts a baseline server and returns its address and stop.
func (b *bench) server(name string, args ...string) (string, func(), error) {
	cmd := exec.Command(filepath.Join(b.binDir, name), args...)
	cmd.Stderr = os.Stderr
	// In a session of its own, as `gpmd start` puts the daemon: with the
	// kernel's autogroup scheduling (sched_autogroup_enabled) a process
	// in the client's session shares the client's scheduling group, which
	// costs a loopback server about a fifth less CPU per request than
	// the same server in a group of its own; the comparison would measure
	// that, not the servers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("%s printed no address: %w", name, err)
	}
	return strings.TrimSpace(line), stop, nil
}

// readLine reads one reply up to its line feed into buf's space and
// returns its length.
func readLine(c net.Conn, buf []byte) (int, error) {
	n := 0
	for {
		m, err := c.Read(buf)
		n += m
		if m > 0 && buf[m-1] == '\n' {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func dial(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// fetch: GMP MODULE of 16 MiB against b64server.
func (b *bench) fetch() (result, error) {
	fs, err := b.writeFiles(1, 16<<20)
	if err != nil {
		return result{}, err
	}
	if _, err := timed(b.gpmdCmd("wasm", "upload", "--name", "fetch16", "--version", "v1.0.0", "--file", fs[0])); err != nil {
		return result{}, err
	}
	addr, stop, err := b.server("b64server", fs[0])
	if err != nil {
		return result{}, err
	}
	defer stop()
	gc, err := dial(b.gmpAddr)
	if err != nil {
		return result{}, err
	}
	defer gc.Close()
	bc, err := dial(addr)
	if err != nil {
		return result{}, err
	}
	defer bc.Close()
	req := []byte(`{"type":2,"code":1,"id":1,"body":{"name":"fetch16"}}` + "\n")
	buf := make([]byte, 256<<10)
	one := func(c net.Conn) (time.Duration, error) {
		start := time.Now()
		if _, err := c.Write(req); err != nil {
			return 0, err
		}
		n, err := readLine(c, buf)
		if err != nil {
			return 0, err
		}
		if n < 16<<20*4/3 {
			return 0, fmt.Errorf("a reply of %d bytes", n)
		}
		return time.Since(start), nil
	}
	// Warm both up.
	if _, err := one(gc); err != nil {
		return result{}, err
	}
	if _, err := one(bc); err != nil {
		return result{}, err
	}
	ratios, g, base, err := b.pairs(b.o.fetches, func(gpmdFirst bool) (time.Duration, time.Duration, error) {
		return both(gpmdFirst, func() (time.Duration, error) { return one(gc) }, func() (time.Duration, error) { return one(bc) })
	})
	if err != nil {
		return result{}, err
	}
	mbs := func(d time.Duration) string {
		return fmt.Sprintf("%.0f MB/s", float64(16<<20)*float64(b.o.fetches)/1e6/d.Seconds())
	}
	return result{name: "fetch 16 MiB", ratios: ratios, target: 0.85,
		detail: "gpmd " + mbs(g) + ", base64 writer " + mbs(base)}, nil
}

// roundTrips: DISCOVER (connect false) or CONNECT round trips over 64
// connections against a line-echo server.
func (b *bench) roundTrips(name string, connect bool) (result, error) {
	const conns = 64
	addr, stop, err := b.server("echoserver")
	if err != nil {
		return result{}, err
	}
	defer stop()
	open := func(addr string) ([]net.Conn, error) {
		cs := make([]net.Conn, 0, conns)
		for range conns {
			c, err := dial(addr)
			if err != nil {
				closeAll(cs)
				return nil, err
			}
			cs = append(cs, c)
		}
		return cs, nil
	}
	gcs, err := open(b.gmpAddr)
	if err != nil {
		return result{}, err
	}
	defer closeAll(gcs)
	ecs, err := open(addr)
	if err != nil {
		return result{}, err
	}
	defer closeAll(ecs)
	buf := make([]byte, 4096)
	for i, c := range gcs {
		reg := fmt.Appendf(nil, `{"type":1,"code":1,"id":0,"body":{"name":"node-%02d","id":"n%d","port":%d}}`+"\n", i, i, 40000+i)
		if _, err := c.Write(reg); err != nil {
			return result{}, err
		}
		n, err := readLine(c, buf)
		if err != nil || !bytes.Contains(buf[:n], []byte(`"code":3`)) {
			return result{}, fmt.Errorf("register: %s %v", buf[:n], err)
		}
	}
	discover := []byte(`{"type":1,"code":5,"id":1}` + "\n")
	connects := make([][]byte, conns)
	for i := range connects {
		connects[i] = fmt.Appendf(nil, `{"type":1,"code":7,"id":2,"body":{"name":"node-%02d"}}`+"\n", (i+1)%conns)
	}
	load := func(cs []net.Conn, total int) (time.Duration, error) {
		var wg sync.WaitGroup
		errs := make(chan error, len(cs))
		start := time.Now()
		for ci, c := range cs {
			n := total / len(cs)
			wg.Add(1)
			go func() {
				defer wg.Done()
				rb := make([]byte, 4096)
				for range n {
					req := discover
					if connect {
						req = connects[ci]
					}
					if _, err := c.Write(req); err != nil {
						errs <- err
						return
					}
					if _, err := readLine(c, rb); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		el := time.Since(start)
		close(errs)
		return el, <-errs
	}
	if _, err := load(gcs, 2*conns); err != nil {
		return result{}, err
	}
	if _, err := load(ecs, 2*conns); err != nil {
		return result{}, err
	}
	// A step is a tenth of the requests, so that the sides take turns.
	const steps = 10
	ratios, g, base, err := b.pairs(steps, func(gpmdFirst bool) (time.Duration, time.Duration, error) {
		return both(gpmdFirst,
			func() (time.Duration, error) { return load(gcs, b.o.requests/steps) },
			func() (time.Duration, error) { return load(ecs, b.o.requests/steps) })
	})
	if err != nil {
		return result{}, err
	}
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f req/s", float64(b.o.requests)/d.Seconds()) }
	return result{name: name, ratios: ratios, target: 0.9,
		detail: "gpmd " + rate(g) + ", echo " + rate(base)}, nil
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// versionStart: `gpmd version` against the smallest Go program.
func (b *bench) versionStart() (result, error) {
	hello := filepath.Join(b.binDir, "hello")
	ratios, g, base, err := b.pairs(b.o.starts, func(gpmdFirst bool) (time.Duration, time.Duration, error) {
		return both(gpmdFirst,
			func() (time.Duration, error) { return timed(exec.CommandContext(b.ctx, b.o.gpmd, "version")) },
			func() (time.Duration, error) { return timed(exec.CommandContext(b.ctx, hello)) })
	})
	if err != nil {
		return result{}, err
	}
	// The target is a ceiling on time: invert the throughput ratios.
	for i := range ratios {
		ratios[i] = 1 / ratios[i]
	}
	return result{name: "version start", ratios: ratios, target: 1.5, atMost: true,
		detail: "per start: gpmd " + perFile(g, b.o.starts) + ", hello " + perFile(base, b.o.starts)}, nil
}
