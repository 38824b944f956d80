package e2e

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// Issue 16's GMP points against the real daemon, over raw TCP: what a GVM
// (or an attacker on the same machine) sends, byte for byte.

// gmpLine is one raw GMP connection to the daemon under test.
type gmpLine struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialGMPLine(t *testing.T, addr string) *gmpLine {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &gmpLine{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// exchange sends one request line and returns the raw reply line, which
// must be valid JSON text.
func (g *gmpLine) exchange(req string) []byte {
	g.t.Helper()
	g.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := g.nc.Write([]byte(req + "\n")); err != nil {
		g.t.Fatalf("sending %q: %v", req, err)
	}
	line, err := g.br.ReadBytes('\n')
	if err != nil {
		g.t.Fatalf("reply to %q: %v (%q)", req, err, line)
	}
	if !utf8.Valid(line) || !json.Valid(line) {
		g.t.Fatalf("reply to %q is not valid JSON text: %q", req, line)
	}
	return line
}

type gmpReply struct {
	Type, Code int
	ID         json.RawMessage
	Body       struct{ Error, Name string }
}

func (g *gmpLine) reply(req string) gmpReply {
	g.t.Helper()
	var r gmpReply
	json.Unmarshal(g.exchange(req), &r)
	return r
}

// TestGMPReRegisterAfterClose (issue 16 point 13): a node that closes and
// at once registers its name again on a new connection gets it, 500 times
// in a row, never name_taken.
func TestGMPReRegisterAfterClose(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	const rounds = 500
	const register = `{"type":1,"code":1,"id":1,"body":{"name":"again","id":"a","port":1}}`
	taken := 0
	var prev *gmpLine
	for i := range rounds {
		if prev != nil {
			prev.nc.Close()
		}
		next := dialGMPLine(t, st.GMPAddr)
		r := next.reply(register)
		switch {
		case r.Type == 1 && r.Code == 3:
		case r.Type == 1 && r.Code == 4 && r.Body.Error == "name_taken":
			taken++
			// Let the old registration end, so that each round starts alike.
			if !testutil.Eventually(5*time.Second, func() bool { return next.reply(register).Code == 3 }) {
				t.Fatalf("round %d: the name never came free", i)
			}
		default:
			t.Fatalf("round %d: REGISTER got %+v", i, r)
		}
		prev = next
	}
	if taken != 0 {
		t.Fatalf("name_taken %d times in %d re-registrations right after close", taken, rounds)
	}
	// A live holder keeps its name.
	if r := dialGMPLine(t, st.GMPAddr).reply(register); r.Code != 4 || r.Body.Error != "name_taken" {
		t.Fatalf("REGISTER of a live name: %+v", r)
	}
}

// TestGMPDuplicateKeys (issue 16 point 14): of duplicate keys the last
// counts and null is absent: {"name":"x","name":null} is bad_request.
func TestGMPDuplicateKeys(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	g := dialGMPLine(t, st.GMPAddr)
	for _, body := range []string{
		`{"name":"x","name":null,"id":"i","port":1}`,
		`{"name":"x","id":"i","id":null,"port":1}`,
		`{"name":"x","id":"i","port":1,"port":null}`,
	} {
		if r := g.reply(`{"type":1,"code":1,"id":1,"body":` + body + `}`); r.Code != 4 || r.Body.Error != "bad_request" {
			t.Errorf("REGISTER %s: %+v, want REGISTER_DENIED bad_request", body, r)
		}
	}
	if r := g.reply(`{"type":1,"code":7,"id":2,"body":{"name":"x","name":null}}`); r.Code != 9 || r.Body.Error != "bad_request" {
		t.Errorf("CONNECT with name null last: %+v, want bad_request", r)
	}
	if r := g.reply(`{"type":1,"code":1,"id":3,"body":{"name":null,"name":"x","id":"i","port":1}}`); r.Code != 3 || r.Body.Name != "x" {
		t.Errorf("REGISTER with the good name last: %+v, want REGISTERED x", r)
	}
}

// TestGMPInvalidUTF8ID (issue 16 point 19): an id of invalid UTF-8 gets
// bad_request without the id, and the reply is valid JSON text.
func TestGMPInvalidUTF8ID(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	g := dialGMPLine(t, st.GMPAddr)
	for _, id := range []string{"\xff", "a\xc3", "\xed\xa0\x80"} {
		r := g.reply(`{"type":0,"code":3,"id":"` + id + `"}`) // exchange checks the JSON
		if r.Type != 0 || r.Code != 9 || r.Body.Error != "bad_request" || r.ID != nil {
			t.Errorf("id %q: %+v, want ERROR bad_request without id", id, r)
		}
	}
	if r := g.reply(`{"type":0,"code":3,"id":"ok"}`); r.Code != 4 || string(r.ID) != `"ok"` {
		t.Fatalf("PING after the refusals: %+v", r)
	}
}

// TestGMPRejectionFloodIsBounded (issue 16 point 16): at the connection
// cap, a flood of connections that never send or close does not raise the
// daemon's open descriptors beyond the rejections it allows in flight (64
// by default), and the connection inside the cap is still served.
func TestGMPRejectionFloodIsBounded(t *testing.T) {
	e := newEnv(t)
	st := e.start("--gmp-max-conns", "1")
	holder := dialGMPLine(t, st.GMPAddr)
	if r := holder.reply(`{"type":0,"code":3,"id":1}`); r.Code != 4 {
		t.Fatalf("PING inside the cap: %+v", r)
	}
	fds := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.PID))
		if err != nil {
			t.Skipf("cannot count the daemon's descriptors: %v", err)
		}
		return len(ents)
	}
	before := fds()
	const flood = 1000
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	most := 0
	for i := range flood {
		c, err := net.DialTimeout("tcp", st.GMPAddr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c) // never sends, never closes
		if i%100 == 99 {
			most = max(most, fds())
		}
	}
	most = max(most, fds())
	t.Logf("daemon descriptors: %d before, at most %d during a flood of %d", before, most, flood)
	if most-before > 64+16 {
		t.Fatalf("the flood raised the daemon's descriptors from %d to %d (64 rejections in flight allowed)", before, most)
	}
	if r := holder.reply(`{"type":0,"code":3,"id":2}`); r.Code != 4 {
		t.Fatalf("PING inside the cap after the flood: %+v", r)
	}
}

// TestGMPStalledRepliesAreCut: issue 16 point 15 against the real daemon.
// Peers that ask for a large module and never read are cut when the whole
// reply's deadline (--gmp-reply-timeout) passes, long before the per-write
// timeout would cut them, and the memory their replies held is given back.
func TestGMPStalledRepliesAreCut(t *testing.T) {
	e := newEnv(t)
	st := e.start("--gmp-reply-timeout", "2s", "--gmp-write-timeout", "60s")
	big := testutil.Wasm("stalled", 8<<20)
	e.upload("big", "1.0.0", big)
	before := testutil.RSS(t, st.PID)

	const peers = 100
	conns := make([]net.Conn, peers)
	d := net.Dialer{Timeout: 5 * time.Second, Control: smallRcvBuf}
	for i := range conns {
		c, err := d.Dial("tcp", st.GMPAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte(`{"type":2,"code":1,"id":1,"body":{"name":"big"}}` + "\n")); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	sent := time.Now()
	time.Sleep(time.Second)
	during := testutil.RSS(t, st.PID)
	// Past the reply deadline: each connection holds what was written
	// before the cut, then ends. A reply that was not cut would go on to
	// its end (about 11 MB of base64 and a line feed) as this reads it.
	time.Sleep(time.Until(sent.Add(3 * time.Second)))
	full := int64(base64.StdEncoding.EncodedLen(len(big)))
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("peer %d: reading what was sent: %v (after %d bytes)", i, err, n)
		}
		if n >= full {
			t.Fatalf("peer %d got the whole reply (%d bytes): not cut by the reply deadline", i, n)
		}
	}
	if cut := time.Since(sent); cut > 20*time.Second {
		t.Fatalf("the stalled replies ended %v after they began; the write timeout (60s) is what cut them", cut)
	}
	// The memory comes back (the free list is bounded; the rest is handed
	// to the system within seconds of the burst).
	var after int64
	if !testutil.Eventually(20*time.Second, func() bool {
		after = testutil.RSS(t, st.PID)
		return after < before+32<<20
	}) {
		t.Fatalf("resident memory: %d MiB before, %d MiB with %d stalled replies, %d MiB 20 s after they were cut", before>>20, during>>20, peers, after>>20)
	}
	t.Logf("resident memory: %d MiB before, %d MiB with %d stalled replies, %d MiB after the cut", before>>20, during>>20, peers, after>>20)
	// The daemon still answers.
	if r := e.gpmd("wasm", "get", "big@1.0.0"); r.code != 0 || len(r.stdout) != len(big) {
		t.Fatalf("get after the burst: %v", r)
	}
}

// smallRcvBuf keeps a peer's receive window small (set before the
// handshake), so that a reply stalls at the daemon, not in this kernel.
func smallRcvBuf(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
	})
}
