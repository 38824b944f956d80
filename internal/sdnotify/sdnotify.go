// Package sdnotify speaks systemd's notify protocol (sd_notify(3)): a
// service of Type=notify tells systemd that it is ready (READY=1), that it
// is stopping (STOPPING=1), and that it is alive (WATCHDOG=1), each a
// datagram to the unix socket named by $NOTIFY_SOCKET.
//
// Guarantees: with no $NOTIFY_SOCKET (not run by systemd) every call does
// nothing and returns nil, so the daemon calls it unconditionally. A
// Notifier never blocks longer than one datagram send, and is safe for
// concurrent use. The socket path may be abstract ("@name"), as systemd
// sometimes gives it.
//
// Caveats: only the environment given to New is read; unsetting
// NOTIFY_SOCKET for children is the caller's business (gpmd starts none).
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// The messages GPMD sends (sd_notify(3) lists them).
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends notifications to one socket; the zero Notifier (and a nil
// one) sends nothing.
type Notifier struct {
	addr *net.UnixAddr // nil: not under systemd

	// watchdog is half of $WATCHDOG_USEC, the keep-alive period systemd
	// recommends; 0 when the watchdog is off or meant for another pid.
	watchdog time.Duration
}

// New reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID through
// getenv (os.Getenv in the daemon) for the process pid.
func New(getenv func(string) string, pid int) (*Notifier, error) {
	n := &Notifier{}
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return n, nil
	}
	if path[0] != '/' && path[0] != '@' {
		return nil, fmt.Errorf("NOTIFY_SOCKET=%q is neither a path nor an abstract socket", path)
	}
	n.addr = &net.UnixAddr{Name: path, Net: "unixgram"}
	if path[0] == '@' {
		n.addr.Name = "\x00" + path[1:]
	}
	if usec := getenv("WATCHDOG_USEC"); usec != "" {
		v, err := strconv.ParseInt(usec, 10, 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", usec)
		}
		// WATCHDOG_PID, when set, names the process the watchdog is for;
		// for any other (a child that inherited it) the watchdog is off.
		if p := getenv("WATCHDOG_PID"); p == "" || p == strconv.Itoa(pid) {
			n.watchdog = time.Duration(v) * time.Microsecond / 2
		}
	}
	return n, nil
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// WatchdogInterval is how often Watch sends WATCHDOG=1 (half of
// $WATCHDOG_USEC), or 0 when systemd expects no keep-alive.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Notify sends one datagram of state (lines such as "READY=1"). A new
// socket per message keeps no descriptor open between messages and makes
// the call safe for concurrent use.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", state, err)
	}
	return nil
}

// Watch sends WATCHDOG=1 every WatchdogInterval until ctx ends; it returns
// at once when the watchdog is off. alive, if not nil, is asked before
// each keep-alive: a false answer skips it, so that systemd restarts a
// daemon that is stuck rather than one that merely has a ticker running.
// Send errors go to onErr (if not nil) and do not stop the loop.
func (n *Notifier) Watch(ctx context.Context, alive func() bool, onErr func(error)) {
	d := n.WatchdogInterval()
	if d <= 0 {
		return
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive != nil && !alive() {
				continue
			}
			if err := n.Notify(Watchdog); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
