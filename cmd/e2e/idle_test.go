package e2e

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

var idleNodes = flag.Int("idle-nodes", 10000, "registered idle GMP connections TestTenThousandIdleNodes holds")

// TestTenThousandIdleNodes holds 10,000 registered, idle GMP connections
// to the real daemon at once (issue 4) and checks that the daemon's
// resident memory stays under 200 MiB, that an idle registration is not
// dropped for idleness (past the message timeout), and that every node
// leaves the moment its connection closes. The daemon binary is built
// without the race detector, so its memory is the daemon's own.
func TestTenThousandIdleNodes(t *testing.T) {
	n := *idleNodes
	raiseFileLimit(t, n+512)
	e := newEnv(t)
	st := e.start("--gmp-message-timeout", "1s")
	before := testutil.RSS(t, st.PID)

	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", st.GMPAddr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, `{"type":1,"code":1,"id":%d,"body":{"name":"idle-%05d","id":"i%d","port":%d}}`+"\n", i, i, i, 1024+i)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.Contains(line, `"code":3`) {
			t.Fatalf("register %d: %q %v", i, line, err)
		}
		c.SetDeadline(time.Time{})
	}
	// Idle for longer than the message timeout: no node may be dropped.
	time.Sleep(1500 * time.Millisecond)
	after := testutil.RSS(t, st.PID)
	t.Logf("%d idle registered connections: daemon RSS %.1f MiB (%.1f MiB before, %.1f KiB per connection)",
		n, float64(after)/(1<<20), float64(before)/(1<<20), float64(after-before)/float64(n)/1024)
	if after >= 200<<20 {
		t.Errorf("daemon RSS with %d idle connections = %.1f MiB, want < 200 MiB", n, float64(after)/(1<<20))
	}
	var status struct {
		Nodes          int `json:"nodes"`
		GMPConnections int `json:"gmp_connections"`
	}
	e.jsonOf(&status, "status", "-o", "json")
	if status.Nodes != n || status.GMPConnections != n {
		t.Fatalf("after idling: %d nodes on %d connections, want %d", status.Nodes, status.GMPConnections, n)
	}

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	if !testutil.Eventually(10*time.Second, func() bool {
		e.jsonOf(&status, "status", "-o", "json")
		return status.Nodes == 0
	}) {
		t.Fatalf("%d nodes still live 10 s after their connections closed", status.Nodes)
	}
}

// raiseFileLimit lifts this process's soft open-file limit to the hard
// limit (as the daemon does for itself at start-up) and fails clearly when
// even that cannot hold need descriptors.
func raiseFileLimit(t *testing.T, need int) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < uint64(need) {
		t.Fatalf("this machine allows %d open files (hard limit); holding %d idle nodes needs %d (-idle-nodes sets the count)", lim.Cur, *idleNodes, need)
	}
}
