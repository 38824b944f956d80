package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/cmd/control/api"
	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// stream follows the control API's event stream in the background.
type stream struct {
	mu   sync.Mutex
	msgs []api.StreamMessage
	done chan struct{} // closed when the stream has ended
	err  error         // why, once done is closed
	stop context.CancelFunc
}

func follow(t *testing.T, st conf.State, topics string, lastID uint64) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{done: make(chan struct{}), stop: cancel}
	c := ctlclient.NewClient(st.ControlAddr, "")
	go func() {
		s.err = c.Events(ctx, topics, "", lastID, func(m api.StreamMessage) error {
			s.mu.Lock()
			s.msgs = append(s.msgs, m)
			s.mu.Unlock()
			return nil
		})
		c.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

// waitEvents waits until the stream holds n events (beyond its start) and
// returns them as "event name version" lines.
func (s *stream) waitEvents(t *testing.T, n int) (start api.StreamMessage, lines []string, evs []events.Event) {
	t.Helper()
	// split separates the stream's first message (a fresh stream or a
	// resync has one; a resume has none) from its events.
	split := func() (api.StreamMessage, []api.StreamMessage) {
		if len(s.msgs) > 0 && s.msgs[0].Kind != "" {
			return s.msgs[0], s.msgs[1:]
		}
		return api.StreamMessage{}, s.msgs
	}
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("%d events on the stream", n), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		st, rest := split()
		return len(rest) >= n && (n > 0 || st.Kind != "")
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	start, rest := split()
	for _, m := range rest {
		evs = append(evs, m.Event)
		e := m.Event
		switch e.Topic {
		case events.TopicNodes:
			lines = append(lines, e.Event+" "+e.Name)
		default:
			lines = append(lines, strings.TrimSpace(e.Event+" "+e.Name+" "+e.Version))
		}
	}
	return start, lines, evs
}

// TestEventsThroughDaemon: the SSE stream of a real daemon carries node
// and module events (latest exactly when a blank request's answer
// changes: upload of a higher version, of a lower one, of a pre-release,
// rm of the latest, import), resumes with Last-Event-ID, tells a resume
// from before its history or from another process to resync, and the
// daemon's log records the node and module events.
func TestEventsThroughDaemon(t *testing.T) {
	e := newEnv(t)
	st := e.start("--events-history", "16")
	s := follow(t, st, "", 0)
	testutil.WaitFor(t, 5*time.Second, "the stream's start", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.msgs) == 1
	})

	up := func(v, tag string) {
		t.Helper()
		e.gpmd("wasm", "upload", "--name", "math", "--version", v, "--file", e.file(tag+".wasm", testutil.Wasm(tag, 200)))
	}
	ctx := t.Context()
	gc, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.Register(ctx, "node-1", "a1", 40001, true); err != nil {
		t.Fatal(err)
	}
	hidden, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hidden.Register(ctx, "hidden", "h1", 40002, false); err != nil {
		t.Fatal(err)
	}
	hidden.Close()
	up("v1.0.0", "a")
	up("v0.9.0", "b")      // lower: no latest
	up("v2.0.0-rc.1", "c") // pre-release: no latest
	up("v1.1.0", "d")      // higher
	e.gpmd("wasm", "rm", "math@v1.1.0")
	// An import uploads through the daemon: it emits too.
	early := filepath.Join(t.TempDir(), "early")
	os.MkdirAll(early, 0o755)
	imported := testutil.Wasm("imported", 300)
	os.WriteFile(filepath.Join(early, "math-v3.0.0.wasm"), imported, 0o644)
	os.WriteFile(filepath.Join(early, "ghost.modules.json"), fmt.Appendf(nil,
		`{"math":{"name":"math","versions":{"v3.0.0":{"version":"v3.0.0","file":"math-v3.0.0.wasm","hash":%q}}}}`, digest.FromBytes(imported).Encoded()), 0o644)
	e.gpmd("import", "--from", early)
	gc.Close()

	want := []string{
		"registered node-1",
		"uploaded math v1.0.0", "latest math v1.0.0",
		"uploaded math v0.9.0",
		"uploaded math v2.0.0-rc.1",
		"uploaded math v1.1.0", "latest math v1.1.0",
		"removed math v1.1.0", "latest math v1.0.0",
		"uploaded math v3.0.0", "latest math v3.0.0",
		"unregistered node-1",
	}
	start, got, evs := s.waitEvents(t, len(want))
	if start.Kind != api.StreamSubscribed || start.Start.Seq != 0 || len(start.Start.Nodes) != 0 {
		t.Fatalf("stream start = %+v", start)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d has seq %d", i, ev.Seq)
		}
	}
	if evs[2].Hash != digest.FromBytes(testutil.Wasm("a", 200)).String() {
		t.Fatalf("latest event hash = %q", evs[2].Hash)
	}

	// Resume after the 5th event: exactly the rest, on modules only.
	r := follow(t, st, "modules", 5)
	_, rgot, revs := r.waitEvents(t, 6)
	if revs[0].Seq != 6 || strings.Join(rgot, ",") != "uploaded math v1.1.0,latest math v1.1.0,removed math v1.1.0,latest math v1.0.0,uploaded math v3.0.0,latest math v3.0.0" {
		t.Fatalf("resumed events %v (first seq %d)", rgot, revs[0].Seq)
	}
	// A resume from a seq this process never issued: resync.
	g := follow(t, st, "", 1000)
	start, _, _ = g.waitEvents(t, 0)
	if start.Kind != api.StreamResync || start.Start.Seq != uint64(len(want)) || !strings.Contains(start.Start.Message, "resync") {
		t.Fatalf("resume from the future = %+v", start)
	}
	// Beyond the history (16 events): resync too. Each upload of a lower
	// version is one event.
	for i := range 6 {
		up(fmt.Sprintf("v0.0.%d", i+1), fmt.Sprintf("h%d", i))
	}
	old := follow(t, st, "", 1)
	start, _, _ = old.waitEvents(t, 0)
	if start.Kind != api.StreamResync {
		t.Fatalf("resume from before the history = %+v", start)
	}

	logData, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	log := string(logData)
	for _, w := range []string{
		`msg="node registered" component=gmp name=node-1 id=a1 address=127.0.0.1 port=40001`,
		`msg="node left" component=gmp name=node-1 id=a1 address=127.0.0.1 port=40001 why="connection closed"`,
		`msg="module uploaded" component=repo name=math version=v1.0.0`,
		`msg="module removed" component=repo name=math version=v1.1.0`,
	} {
		if !strings.Contains(log, w) {
			t.Errorf("the daemon's log lacks %q:\n%s", w, log)
		}
	}

	// A stream open while the daemon stops ends (the stop does not wait
	// for it), and a daemon started afterwards, as after a restore, has
	// a fresh sequence: a resume from the old one is told to resync.
	began := time.Now()
	e.gpmd("kill")
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("kill took %v with event streams open", d)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end when the daemon stopped")
	}
	st = e.start()
	fresh := follow(t, st, "", 30)
	start, _, _ = fresh.waitEvents(t, 0)
	if start.Kind != api.StreamResync || start.Start.Seq != 0 {
		t.Fatalf("resume across a restart = %+v", start)
	}
}

// TestEventsCLI: `gpmd events` (lines and -o json) and `gpmd nodes
// --watch` against a real daemon, ended by Ctrl-C (SIGINT) with status 0.
func TestEventsCLI(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	lines := e.follow(t, "events")
	jsonF := e.follow(t, "events", "--topics", "modules", "-o", "json")
	watch := e.follow(t, "nodes", "--watch", "-o", "json")
	testutil.WaitFor(t, 10*time.Second, "the followers to start", func() bool {
		return strings.Contains(lines.stderr.String(), "following events") && jsonF.stderr.String() == ""
	})
	// The watch prints the list at once: no nodes.
	watchNodes := func() []string {
		t.Helper()
		l := watch.line("nodes --watch")
		var nl struct {
			Nodes []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(l), &nl); err != nil {
			t.Fatalf("nodes --watch -o json printed %q: %v", l, err)
		}
		names := []string{}
		for _, n := range nl.Nodes {
			names = append(names, n.Name)
		}
		return names
	}
	if got := watchNodes(); len(got) != 0 {
		t.Fatalf("nodes --watch first listed %v", got)
	}
	ctx := t.Context()
	gc, err := client.Dial(ctx, st.GMPAddr, client.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	if _, err := gc.Register(ctx, "node-1", "a1", 40001, true); err != nil {
		t.Fatal(err)
	}
	e.gpmd("wasm", "upload", "--name", "math", "--version", "v1.0.0", "--file", e.file("m.wasm", testutil.TinyWasm))

	if l := lines.line("events"); l != "1 nodes registered node-1 (id a1) at 127.0.0.1:40001" {
		t.Fatalf("events line %q", l)
	}
	if l := lines.line("events"); l != "2 modules uploaded math@v1.0.0 "+testutil.TinyDigest+" (8 B)" {
		t.Fatalf("events line %q", l)
	}
	if l := lines.line("events"); l != "3 modules latest math is now v1.0.0 "+testutil.TinyDigest {
		t.Fatalf("events line %q", l)
	}
	var ev events.Event
	if err := json.Unmarshal([]byte(jsonF.line("events -o json")), &ev); err != nil || ev.Seq != 2 || ev.Event != "uploaded" || ev.Size != 8 {
		t.Fatalf("events -o json: %+v %v", ev, err)
	}
	if got := watchNodes(); len(got) != 1 || got[0] != "node-1" {
		t.Fatalf("nodes --watch after a registration listed %v", got)
	}
	gc.Close()
	if got := watchNodes(); len(got) != 0 {
		t.Fatalf("nodes --watch after the node left listed %v", got)
	}
	for _, f := range []*follower{lines, jsonF, watch} {
		f.interrupt()
	}
	var buf bytes.Buffer
	buf.WriteString(lines.stderr.String())
	if r := e.run(nil, "events", "--topics", "weather"); r.code != 2 || !strings.Contains(r.stderr, "weather") {
		t.Errorf("events --topics weather: %v", r)
	}
}
