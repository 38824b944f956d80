package gmp

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

var idleConns = flag.Int("gmp.idle", 1000, "registered idle connections TestIdleConnMemory holds (issue 4 asks about 10000)")

// idleHelperEnv makes the test binary act as the peers of
// TestIdleConnMemory: "addr,n".
const idleHelperEnv = "GMP_IDLE_PEERS"

// TestMain lets the test binary double as the process holding the idle
// peers, so that the server's process holds only the server's side.
func TestMain(m *testing.M) {
	if v := os.Getenv(idleHelperEnv); v != "" {
		os.Exit(idlePeers(v))
	}
	os.Exit(m.Run())
}

// idlePeers opens n connections to addr, registers a node on each, says
// "ready" on stdout, and holds them until stdin closes.
func idlePeers(spec string) int {
	addr, ns, _ := strings.Cut(spec, ",")
	n, err := strconv.Atoi(ns)
	if err != nil {
		fmt.Println("bad spec:", spec)
		return 2
	}
	conns := make([]net.Conn, 0, n)
	buf := make([]byte, 512)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, ioTimeout)
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		c.SetDeadline(time.Now().Add(ioTimeout))
		fmt.Fprintf(c, `{"type":1,"code":1,"id":%d,"body":{"name":"idle-%05d","id":"i%d","port":%d}}`+"\n", i, i, i, 1+i%65535)
		m, err := c.Read(buf)
		if err != nil || !bytes.Contains(buf[:m], []byte(`"code":3`)) {
			fmt.Printf("register %d: %q %v\n", i, buf[:m], err)
			return 1
		}
		c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// TestIdleConnMemory holds -gmp.idle registered, idle connections
// (default 1000; issue 4 asks for 10000 under 200 MiB) whose peers live in
// a child process, and measures how much the server's process grew per
// connection. It fails when 10,000 connections at that rate would add more
// than 180 MiB (the daemon itself starts at about 15 MiB). Run alone, the
// process's RSS before is close to the daemon's; after other tests it is
// not, which is why the growth is what is checked.
func TestIdleConnMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("memory figures under the race detector mean nothing; run without -race")
	}
	n := *idleConns
	ts := startServer(t, Config{})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	before := testutil.RSS(t, 0)

	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), idleHelperEnv+"="+ts.addr+","+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("peers: %q", line)
		}
	case <-time.After(time.Duration(n)*5*time.Millisecond + 30*time.Second):
		t.Fatal("peers not ready in time")
	}
	if got := len(ts.Nodes()); got != n {
		t.Fatalf("%d nodes registered, want %d", got, n)
	}

	runtime.GC()
	afterGC := testutil.RSS(t, 0)
	debug.FreeOSMemory()
	afterFree := testutil.RSS(t, 0)
	perConn := float64(afterGC-before) / float64(n)
	growth10k := perConn * 10000
	t.Logf("%d idle registered connections: RSS %.1f MiB -> %.1f MiB after GC (%.1f MiB after FreeOSMemory); %.0f bytes per connection; 10,000 connections: +%.1f MiB, %.1f MiB in all",
		n, mib(before), mib(afterGC), mib(afterFree), perConn, growth10k/(1<<20), (float64(before)+growth10k)/(1<<20))
	if growth10k > 180<<20 {
		t.Fatalf("10,000 idle connections would add %.1f MiB", growth10k/(1<<20))
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
