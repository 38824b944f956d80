package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// listen is a notify socket of the test's own.
func listen(t *testing.T) (*net.UnixConn, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, path
}

func recv(t *testing.T, c *net.UnixConn, d time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification within %s: %v", d, err)
	}
	return string(buf[:n])
}

func TestNoSocketDoesNothing(t *testing.T) {
	n, err := New(envOf(nil), 1)
	if err != nil || n.Enabled() || n.WatchdogInterval() != 0 || n.Notify(Ready) != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v %v", n, err)
	}
}

func TestNotifyAndWatchdog(t *testing.T) {
	c, path := listen(t)
	n, err := New(envOf(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000", "WATCHDOG_PID": "42"}), 42)
	if err != nil {
		t.Fatal(err)
	}
	if n.WatchdogInterval() != 20*time.Millisecond {
		t.Fatalf("watchdog interval %s, want half of 40ms", n.WatchdogInterval())
	}
	if err := n.Notify(Ready); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, c, 5*time.Second); got != Ready {
		t.Fatalf("got %q", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { n.Watch(ctx, nil, nil); close(done) }()
	for range 3 {
		if got := recv(t, c, 5*time.Second); got != Watchdog {
			t.Fatalf("got %q", got)
		}
	}
	cancel()
	<-done
}

func TestWatchdogForAnotherPID(t *testing.T) {
	_, path := listen(t)
	n, err := New(envOf(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "40000", "WATCHDOG_PID": "7"}), 42)
	if err != nil || n.WatchdogInterval() != 0 || !n.Enabled() {
		t.Fatalf("WATCHDOG_PID of another process: interval %s, err %v", n.WatchdogInterval(), err)
	}
}

func TestBadEnvironment(t *testing.T) {
	for _, env := range []map[string]string{
		{"NOTIFY_SOCKET": "relative.sock"},
		{"NOTIFY_SOCKET": "/x.sock", "WATCHDOG_USEC": "soon"},
		{"NOTIFY_SOCKET": "/x.sock", "WATCHDOG_USEC": "0"},
	} {
		if _, err := New(envOf(env), 1); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}
