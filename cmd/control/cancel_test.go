package control

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

// TestCanceledUploadIsLoggedAsCancel: a client that announces a module,
// sends part of it and hangs up (Ctrl-C) is logged at WARN as a cancel,
// never as an ERROR with status 500, and nothing is stored.
func TestCanceledUploadIsLoggedAsCancel(t *testing.T) {
	f := newFixture(t, 0, "")
	c, err := net.Dial("tcp", f.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	part := testutil.Wasm("cancel", size)[:256<<10]
	fmt.Fprintf(c, "PUT /v1/modules/big/1.0.0 HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", f.srv.Listener.Addr(), size)
	if _, err := c.Write(part); err != nil {
		t.Fatal(err)
	}
	c.Close()

	var line string
	if !testutil.Eventually(10*time.Second, func() bool {
		for l := range strings.Lines(f.logs.String()) {
			if strings.Contains(l, "path=/v1/modules/big/1.0.0") {
				line = l
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no log line for the cancelled upload:\n%s", f.logs.String())
	}
	for _, want := range []string{"level=WARN", `msg="upload cancelled by the client"`, "status=499"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "level=ERROR") || strings.Contains(line, "status=500") {
		t.Errorf("a client's cancel logged as a failure: %s", line)
	}
	if mods, err := f.repo.List(t.Context(), ""); err != nil || len(mods) != 0 {
		t.Errorf("modules after a cancelled upload: %v %v", mods, err)
	}
}
