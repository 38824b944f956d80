package e2e

import (
	"strings"
	"testing"
)

// TestFleetFlagsRefusedAtOnce: a --device or --advertise that the fleet
// could never use is a bad flag, as a new user meets it: exit status 2,
// one line on standard error that names the value and says what is
// wanted, nothing on standard output, and no daemon started (before
// issue 13's last round a bad --advertise started the daemon, which then
// failed; a port or 0.0.0.0 was served to every other device). The
// environment variables are checked the same way.
func TestFleetFlagsRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		args []string
		vars []string
		want []string // in the one line, each
	}{
		{args: []string{"--device", ""}, want: []string{"--device", "empty", "A-Z a-z 0-9 . _ -"}},
		{args: []string{"--device", "kitchen pi"}, want: []string{`"kitchen pi"`, `' '`, "A-Z a-z 0-9 . _ -"}},
		{args: []string{"--device", "-lab"}, want: []string{`"-lab"`, `'-'`, "beginning with a letter or digit"}},
		{args: []string{"--device", "küche"}, want: []string{`'ü'`}},
		{args: []string{"--device", strings.Repeat("d", 65)}, want: []string{"65 bytes long"}},
		{args: []string{"--device", "lab@1"}, want: []string{`'@'`}},
		{args: []string{"--advertise", ""}, want: []string{"--advertise", "empty", "IP address or host name"}},
		{args: []string{"--advertise", ":7000"}, want: []string{`":7000"`, "no host"}},
		{args: []string{"--advertise", "10.0.0.5:0"}, want: []string{`"10.0.0.5:0"`, "port", "without a port"}},
		{args: []string{"--advertise", "10.0.0.5:7000"}, want: []string{`"10.0.0.5:7000"`, "without a port"}},
		{args: []string{"--advertise", "0.0.0.0"}, want: []string{`"0.0.0.0"`, "unspecified"}},
		{args: []string{"--advertise", "::"}, want: []string{`"::"`, "unspecified"}},
		{args: []string{"--advertise", "not an address"}, want: []string{`"not an address"`, "not an IP address or host name"}},
		{vars: []string{"GPMD_DEVICE=a/b"}, want: []string{"GPMD_DEVICE", `'/'`}},
		{vars: []string{"GPMD_ADVERTISE=0.0.0.0"}, want: []string{"GPMD_ADVERTISE", "unspecified"}},
	} {
		pe := *e
		pe.vars = append(append([]string{}, e.vars...), c.vars...)
		// With --fleet to a port nothing listens on: were the value let
		// through, the daemon would start (the fleet connects in the
		// background) and the test would see it running.
		args := []string{"start", "--fleet", "nats://127.0.0.1:1", "--control-addr", "127.0.0.1:0", "--gmp-addr", "127.0.0.1:0"}
		what := strings.Join(append(c.vars, c.args...), " ")
		// Good values of the other setting (the flag would hide the
		// variable under test).
		if !strings.Contains(what, "-device") && !strings.Contains(what, "_DEVICE") {
			args = append(args, "--device", "ok-device")
		}
		if !strings.Contains(what, "-advertise") && !strings.Contains(what, "_ADVERTISE") {
			args = append(args, "--advertise", "127.0.0.2")
		}
		r := pe.run(nil, append(args, c.args...)...)
		line := strings.TrimSuffix(r.stderr, "\n")
		if r.code != 2 || r.stdout != "" || line == "" || strings.Contains(line, "\n") {
			t.Errorf("%s: want exit 2 and one line on stderr; %v", what, r)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(line, w) {
				t.Errorf("%s: the line does not say %q: %s", what, w, line)
			}
		}
		if e.running() {
			t.Fatalf("%s started a daemon", what)
		}
	}
}
