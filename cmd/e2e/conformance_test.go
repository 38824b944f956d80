package e2e

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/gmptest"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestGMPContractVectorsAgainstTheDaemon replays GMP.md's test vectors byte
// for byte over raw TCP against the real daemon, with tiny v0.0.1 uploaded
// through the CLI: first one request at a time, then all of them in one
// write with no line feed between them (the early GVMs' bare objects).
func TestGMPContractVectorsAgainstTheDaemon(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	if r := e.gpmd("wasm", "upload", "--name", "tiny", "--version", "v0.0.1", "--file", e.file("tiny.wasm", gmptest.TinyWasm)); r.code != 0 {
		t.Fatalf("%v", r)
	}
	vectors := gmptest.ContractVectors()

	replay := func(name string, send func(net.Conn)) {
		conn, err := net.DialTimeout("tcp", st.GMPAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		send(conn)
		rd := bufio.NewReader(conn)
		for i, v := range vectors {
			line, err := rd.ReadBytes('\n')
			if err != nil {
				t.Fatalf("%s: vector %d: no reply: %v", name, i+1, err)
			}
			if err := gmptest.CompareReply(line[:len(line)-1], v.Reply); err != nil {
				t.Fatalf("%s: vector %d (%s): %v", name, i+1, v.Request, err)
			}
		}
	}
	replay("one line each", func(c net.Conn) {
		for _, v := range vectors {
			if _, err := c.Write([]byte(v.Request + "\n")); err != nil {
				t.Fatal(err)
			}
		}
	})
	// The first connection's node-1 must be gone before the second
	// registers the name again.
	if !testutil.Eventually(5*time.Second, func() bool { return strings.Contains(e.gpmd("nodes", "-o", "json").stdout, `"nodes": [],`) }) {
		t.Fatalf("node-1 still live after its connection closed: %v", e.gpmd("nodes", "-o", "json"))
	}
	replay("back to back", func(c net.Conn) {
		var all []byte
		for _, v := range vectors {
			all = append(all, v.Request...)
		}
		if _, err := c.Write(all); err != nil {
			t.Fatal(err)
		}
	})
}
