package gmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// evServer is a server with an event hub.
func evServer(t testing.TB, queue int) (*testServer, *events.Hub) {
	hub := events.New(events.Options{Queue: queue})
	return startServer(t, Config{Modules: newRepo(t), Events: hub}), hub
}

// event decodes an EVENT line (no id).
func expectEvent(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	if _, has := m["id"]; has {
		t.Fatalf("EVENT carries an id: %v", m)
	}
	return expectKind(t, m, wire.TypeEvent, wire.CodeEvent, nil)
}

func TestWelcomeFeatures(t *testing.T) {
	ts, _ := evServer(t, 0)
	c := dialRaw(t, ts.addr)
	b := expectKind(t, c.roundTrip(`{"type":0,"code":1,"id":1,"body":{"versions":[1]}}`), 0, 2, 1.0)
	if fmt.Sprint(b["features"]) != "[events have module_info]" {
		t.Fatalf("features = %v, want [events have module_info]", b["features"])
	}
	// The server config feeds the features implemented elsewhere.
	ts2 := startServer(t, Config{Features: []string{wire.FeatureModuleInfo, wire.FeatureHave}})
	if got := ts2.Features(); !slices.Equal(got, []string{wire.FeatureModuleInfo, wire.FeatureHave}) {
		t.Fatalf("Features = %v", got)
	}
	// Without a hub, events are not offered: unknown_message.
	ts3 := startServer(t, Config{})
	c3 := dialRaw(t, ts3.addr)
	expectError(t, c3.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"]}}`), wire.ErrCodeUnknownMessage, 1.0)
}

func TestSubscribeEvents(t *testing.T) {
	ts, _ := evServer(t, 0)
	a := dialRaw(t, ts.addr)
	expectKind(t, a.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"node-a","id":"a1","port":40001}}`), 1, 3, 1.0)

	sub := dialRaw(t, ts.addr)
	expectError(t, sub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes","weather"]}}`), wire.ErrCodeBadRequest, 1.0)
	expectError(t, sub.roundTrip(`{"type":3,"code":1,"id":2,"body":{}}`), wire.ErrCodeBadRequest, 2.0)
	expectError(t, sub.roundTrip(`{"type":3,"code":1,"id":3,"body":{"topics":"nodes"}}`), wire.ErrCodeBadRequest, 3.0)
	b := expectKind(t, sub.roundTrip(`{"type":3,"code":1,"id":4,"body":{"topics":["nodes"]}}`), 3, 2, 4.0)
	if fmt.Sprint(b["topics"]) != "[nodes]" || fmt.Sprint(b["nodes"]) != "[node-a]" || b["seq"] != 1.0 {
		t.Fatalf("SUBSCRIBED = %v", b)
	}

	// A hidden node causes no event; a discoverable one does.
	h := dialRaw(t, ts.addr)
	expectKind(t, h.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"hidden","id":"h1","port":40003,"discoverable":false}}`), 1, 3, 1.0)
	bn := dialRaw(t, ts.addr)
	expectKind(t, bn.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"node-b","id":"b1","port":40002}}`), 1, 3, 1.0)
	e := expectEvent(t, sub.recv())
	want := map[string]any{"seq": 2.0, "topic": "nodes", "event": "registered", "name": "node-b", "id": "b1", "address": "127.0.0.1", "port": 40002.0}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Fatalf("event = %v, want %v", e, want)
	}
	h.c.Close()
	expectKind(t, a.roundTrip(`{"type":1,"code":11,"id":2}`), 1, 12, 2.0)
	e = expectEvent(t, sub.recv())
	if e["seq"] != 3.0 || e["event"] != "unregistered" || e["name"] != "node-a" || e["id"] != "a1" {
		t.Fatalf("event = %v", e)
	}
	bn.c.Close()
	e = expectEvent(t, sub.recv())
	if e["seq"] != 4.0 || e["event"] != "unregistered" || e["name"] != "node-b" {
		t.Fatalf("event = %v", e)
	}
	// Subscribing again adds topics; UNSUBSCRIBE lists what is left.
	b = expectKind(t, sub.roundTrip(`{"type":3,"code":1,"id":5,"body":{"topics":["modules"]}}`), 3, 2, 5.0)
	if fmt.Sprint(b["topics"]) != "[nodes modules]" || b["seq"] != 4.0 || b["nodes"] != nil {
		t.Fatalf("SUBSCRIBED = %v", b)
	}
	b = expectKind(t, sub.roundTrip(`{"type":3,"code":4,"id":6,"body":{"topics":["nodes"]}}`), 3, 5, 6.0)
	if fmt.Sprint(b["topics"]) != "[modules]" {
		t.Fatalf("UNSUBSCRIBED = %v", b)
	}
	c := dialRaw(t, ts.addr)
	expectKind(t, c.roundTrip(`{"type":1,"code":1,"id":1,"body":{"name":"node-c","id":"c1","port":40004}}`), 1, 3, 1.0)
	// No event for nodes any more: the next line is the reply to PING.
	expectKind(t, sub.roundTrip(`{"type":0,"code":3,"id":7}`), 0, 4, 7.0)
	b = expectKind(t, sub.roundTrip(`{"type":3,"code":4,"id":8}`), 3, 5, 8.0)
	if fmt.Sprint(b["topics"]) != "[]" {
		t.Fatalf("UNSUBSCRIBED = %v", b)
	}
	if !strings.Contains(ts.log.String(), "why=unregister") || !strings.Contains(ts.log.String(), `why="connection closed"`) {
		t.Errorf("the log does not say why nodes left:\n%s", ts.log.String())
	}
}

// TestEventsSeqOrder: events arrive in seq order, rising by one when the
// subscriber takes every topic.
func TestEventsSeqOrder(t *testing.T) {
	ts, hub := evServer(t, 0)
	sub := dialRaw(t, ts.addr)
	expectKind(t, sub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes","modules"]}}`), 3, 2, 1.0)
	const n = 500
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Removed, Name: "m", Version: fmt.Sprintf("v0.0.%d", i)})
		}
	})
	for i := range 50 {
		c := dialRaw(t, ts.addr)
		expectKind(t, c.roundTrip(fmt.Sprintf(`{"type":1,"code":1,"id":1,"body":{"name":"n%d","id":"x","port":1}}`, i)), 1, 3, 1.0)
		c.c.Close()
	}
	wg.Wait()
	total := n + 2*50
	for want := 1; want <= total; want++ {
		e := expectEvent(t, sub.recv())
		if e["seq"] != float64(want) {
			t.Fatalf("event %d has seq %v", want, e["seq"])
		}
	}
}

// TestSubscribeRacingRegistrations: SUBSCRIBED's node list and the events
// after it never miss or double a registration that races with it.
func TestSubscribeRacingRegistrations(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	ts, _ := evServer(t, 0)
	for round := range rounds {
		const nodes = 20
		conns, start, wait := churn(t, ts.addr, round, nodes)
		sub := dialRaw(t, ts.addr)
		close(start)
		b := expectKind(t, sub.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"]}}`), 3, 2, 1.0)
		wait()
		view := map[string]bool{}
		for _, n := range b["nodes"].([]any) {
			view[n.(string)] = true
		}
		want := map[string]bool{}
		for _, n := range ts.reg.discoverable() {
			want[n] = true
		}
		// Apply events until the view matches the registry; a doubled
		// or missed event shows as an impossible transition.
		deadline := time.Now().Add(ioTimeout)
		for fmt.Sprint(view) != fmt.Sprint(want) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: view %v never matched %v", round, view, want)
			}
			applyNodeEvent(t, round, view, b["seq"].(float64), expectEvent(t, sub.recv()))
		}
		for _, c := range conns {
			c.c.Close()
		}
		sub.c.Close()
		waitFor(t, "round's nodes gone", func() bool { return len(ts.reg.discoverable()) == 0 })
	}
}

// churn dials n connections to addr and readies goroutines that, once
// start is closed, register r<round>-<i> on each: half stay, the odd ones
// leave at once (UNREGISTER). wait waits for them.
func churn(t testing.TB, addr string, round, n int) (conns []*rawConn, start chan struct{}, wait func()) {
	t.Helper()
	conns = make([]*rawConn, n)
	for i := range n {
		conns[i] = dialRaw(t, addr)
	}
	start = make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			c := conns[i]
			c.send(fmt.Sprintf(`{"type":1,"code":1,"id":1,"body":{"name":"r%d-%d","id":"x","port":1}}`+"\n", round, i))
			c.recv()
			if i%2 == 1 {
				c.send(`{"type":1,"code":11,"id":2}` + "\n")
				c.recv()
			}
		})
	}
	return conns, start, wg.Wait
}

// applyNodeEvent applies a node event e to view, the node list a
// subscriber holds since its SUBSCRIBED of seq subSeq: a doubled or missed
// event shows as an impossible transition (a registration of a node in
// view, a leave of one not in it), and fails the test.
func applyNodeEvent(t testing.TB, round int, view map[string]bool, subSeq float64, e map[string]any) {
	t.Helper()
	if e["seq"].(float64) <= subSeq {
		t.Fatalf("round %d: event %v is not after SUBSCRIBED seq %v", round, e, subSeq)
	}
	name := e["name"].(string)
	switch e["event"] {
	case "registered":
		if view[name] {
			t.Fatalf("round %d: %s registered twice (snapshot and event)", round, name)
		}
		view[name] = true
	case "unregistered":
		if !view[name] {
			t.Fatalf("round %d: %s left without being seen", round, name)
		}
		delete(view, name)
	default:
		t.Fatalf("round %d: event %v", round, e)
	}
}

// TestSlowSubscriberOverflow: a subscriber that never reads gets overflow
// once it reads, keeps its subscription and its registration; another
// subscriber gets every event, and requests are answered meanwhile.
func TestSlowSubscriberOverflow(t *testing.T) {
	ts, hub := evServer(t, 1024)
	// A small receive buffer, set before the handshake so the window is
	// small from the start: the server's writes stall soon.
	d := net.Dialer{Control: smallRcvBuf}
	slow, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	sr := bufio.NewReader(slow)
	fmt.Fprint(slow, `{"type":1,"code":1,"id":1,"body":{"name":"slow","id":"s","port":1}}`+"\n"+`{"type":3,"code":1,"id":2,"body":{"topics":["nodes","modules"]}}`+"\n")
	for range 2 {
		if _, err := sr.ReadBytes('\n'); err != nil {
			t.Fatal(err)
		}
	}
	fast := dialRaw(t, ts.addr)
	fb := expectKind(t, fast.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["modules"]}}`), 3, 2, 1.0)
	const n = 100000
	got := make(chan int, 1)
	var received atomic.Int64
	go func() {
		count, last := 0, fb["seq"].(float64)
		for count < n {
			fast.c.SetReadDeadline(time.Now().Add(ioTimeout))
			b, err := fast.br.ReadBytes('\n')
			if err != nil {
				break
			}
			var m struct{ Body struct{ Seq float64 } }
			json.Unmarshal(b, &m)
			if m.Body.Seq != last+1 {
				break
			}
			last = m.Body.Seq
			count++
			received.Store(int64(count))
		}
		got <- count
	}()
	// Published in bursts smaller than a queue, each once the reading
	// subscriber has the one before: it keeps up, the slow one does not.
	pad := strings.Repeat("x", 200)
	for i := range n {
		hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Removed, Name: "m", Version: "v0.0.1-" + pad, Hash: fmt.Sprint(i)})
		if i%500 == 499 {
			waitFor(t, "the reading subscriber to keep up", func() bool { return received.Load() >= int64(i+1)-500 })
		}
	}
	if c := <-got; c != n {
		t.Fatalf("the fast subscriber got %d of %d events in order", c, n)
	}
	// GMP requests are answered while the slow one still does not read.
	other := dialRaw(t, ts.addr)
	expectKind(t, other.roundTrip(`{"type":1,"code":5,"id":1}`), 1, 6, 1.0)
	// Now it reads: somewhere in its stream are one overflow per topic,
	// and seq never goes down.
	overflows := map[string]float64{}
	last := 0.0
	slow.SetReadDeadline(time.Now().Add(ioTimeout))
	for len(overflows) < 2 {
		b, err := sr.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reading the slow subscriber: %v (overflows %v, last seq %v)", err, overflows, last)
		}
		var m struct {
			Body struct {
				Seq          float64
				Topic, Event string
			}
		}
		json.Unmarshal(b, &m)
		if m.Body.Seq < last {
			t.Fatalf("seq went down: %v after %v", m.Body.Seq, last)
		}
		last = m.Body.Seq
		if m.Body.Event == events.Overflow {
			overflows[m.Body.Topic] = m.Body.Seq
		}
	}
	if overflows["nodes"] != overflows["modules"] || overflows["nodes"] == 0 {
		t.Fatalf("overflow seqs = %v", overflows)
	}
	// It is still registered and still subscribed.
	if _, ok := ts.reg.lookup("slow"); !ok {
		t.Fatal("the slow subscriber lost its registration")
	}
	slow.SetReadDeadline(time.Time{})
	hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "after"})
	slow.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		b, err := sr.ReadBytes('\n')
		if err != nil {
			t.Fatalf("no event after the overflow: %v", err)
		}
		if strings.Contains(string(b), `"name":"after"`) {
			break
		}
	}
}

// TestHaveField: have equal to the resolved hash gets MODULE without its
// binary; another hash changes nothing; a malformed one is bad_request.
func TestHaveField(t *testing.T) {
	ts := startServer(t, Config{Modules: newRepo(t)})
	c := dialRaw(t, ts.addr)
	b := expectKind(t, c.roundTrip(`{"type":2,"code":1,"id":1,"body":{"name":"tiny","have":"`+tinyDigest+`"}}`), 2, 2, 1.0)
	if _, has := b["binary"]; has || b["hash"] != tinyDigest || b["size"] != 8.0 || b["version"] != "v0.0.1" || b["name"] != "tiny" {
		t.Fatalf("MODULE with a matching have = %v", b)
	}
	other := "sha256:" + strings.Repeat("0", 64)
	b = expectKind(t, c.roundTrip(`{"type":2,"code":1,"id":2,"body":{"name":"tiny","have":"`+other+`"}}`), 2, 2, 2.0)
	if b["binary"] != "AGFzbQEAAAA=" {
		t.Fatalf("MODULE with another have = %v", b)
	}
	for i, bad := range []string{`"sha256:abc"`, `"md5:` + strings.Repeat("0", 64) + `"`, `"sha256:` + strings.Repeat("A", 64) + `"`, `42`} {
		expectError(t, c.roundTrip(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":{"name":"tiny","have":%s}}`, 10+i, bad)), wire.ErrCodeBadRequest, float64(10+i))
	}
}

// TestEventsBetweenReplies: events never land inside a MODULE reply, and
// the reply is whole.
func TestEventsBetweenReplies(t *testing.T) {
	r := newRepo(t)
	big := testutil.Wasm("big", 4<<20)
	upload(t, r, "big", "v1.0.0", big)
	hub := events.New(events.Options{})
	ts := startServer(t, Config{Modules: r, Events: hub})
	c := dialRaw(t, ts.addr)
	expectKind(t, c.roundTrip(`{"type":3,"code":1,"id":1,"body":{"topics":["modules"]}}`), 3, 2, 1.0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "x"})
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for i := range 5 {
		c.send(fmt.Sprintf(`{"type":2,"code":1,"id":%d,"body":{"name":"big"}}`+"\n", 100+i))
		for {
			m := c.recv() // each line is one whole JSON message
			if m["type"] == 2.0 {
				expectKind(t, m, 2, 2, float64(100+i))
				break
			}
			expectEvent(t, m)
		}
	}
}

// smallRcvBuf sets a 4 KiB receive buffer before the handshake (a
// net.Dialer's Control), so the window is small from the start.
func smallRcvBuf(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
}

var eventsFull = flag.Bool("gmp.events-full", false, "TestThousandSubscribersWhileNodesComeAndGo at the issue's full size: 1,000 subscribers, 10,000 registrations")

// TestThousandSubscribersWhileNodesComeAndGo: 1,000 subscribers while
// 10,000 registrations come and go. Every subscriber sees seq rise and
// ends at the last event, having had every event or been told overflow;
// the registry ends empty.
//
// The full size takes about 4 minutes on 2 cores (20 million
// event deliveries), too long for every `make test`: that runs a tenth of
// each, and `make scale` runs the full size (-gmp.events-full).
func TestThousandSubscribersWhileNodesComeAndGo(t *testing.T) {
	subs, regs := 100, 1000
	if *eventsFull {
		subs, regs = 1000, 10000
	}
	ts, hub := evServer(t, 0)
	conns := make([]*rawConn, subs)
	for i := range conns {
		conns[i] = dialRaw(t, ts.addr)
		conns[i].send(`{"type":3,"code":1,"id":1,"body":{"topics":["nodes"]}}` + "\n")
	}
	for _, c := range conns {
		c.line()
	}
	type result struct {
		events, overflows int
		last              uint64
		err               error
	}
	results := make([]result, subs)
	final := uint64(2 * regs)
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			r := &results[i]
			for r.last < final {
				c.c.SetReadDeadline(time.Now().Add(30 * time.Second))
				b, err := c.br.ReadSlice('\n')
				if err != nil {
					r.err = err
					return
				}
				k := bytes.Index(b, []byte(`"seq":`)) + 6
				j := k
				for j < len(b) && b[j] >= '0' && b[j] <= '9' {
					j++
				}
				seq, _ := strconv.ParseUint(string(b[k:j]), 10, 64)
				if seq < r.last {
					r.err = fmt.Errorf("seq %d after %d", seq, r.last)
					return
				}
				r.last = seq
				if bytes.Contains(b, []byte(`"event":"overflow"`)) {
					r.overflows++
				} else {
					r.events++
				}
			}
		})
	}
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < regs; i += workers {
				c, err := net.Dial("tcp", ts.addr)
				if err != nil {
					t.Error(err)
					return
				}
				fmt.Fprintf(c, `{"type":1,"code":1,"id":1,"body":{"name":"n%d","id":"x","port":1}}`+"\n", i)
				br := bufio.NewReader(c)
				if _, err := br.ReadSlice('\n'); err != nil {
					t.Error(err)
				}
				fmt.Fprint(c, `{"type":1,"code":11,"id":2}`+"\n")
				if _, err := br.ReadSlice('\n'); err != nil {
					t.Error(err)
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	readers.Wait()
	if hub.Seq() != final {
		t.Fatalf("seq %d after %d registrations, want %d", hub.Seq(), regs, final)
	}
	overflowed := 0
	for i, r := range results {
		if r.err != nil || r.last != final {
			t.Fatalf("subscriber %d: %v, last seq %d of %d", i, r.err, r.last, final)
		}
		if r.overflows == 0 && r.events != int(final) {
			t.Fatalf("subscriber %d got %d of %d events and no overflow", i, r.events, final)
		}
		if r.overflows > 0 {
			overflowed++
		}
	}
	if n := len(ts.reg.discoverable()); n != 0 {
		t.Fatalf("%d nodes left", n)
	}
	t.Logf("%d subscribers, %d registrations: %d subscribers overflowed", subs, regs, overflowed)
}
