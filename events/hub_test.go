package events

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/ghost-network/gpmd/errdefs"
)

func mod(name string) Event { return Event{Topic: TopicModules, Event: Latest, Name: name} }
func node(name string) Event {
	return Event{Topic: TopicNodes, Event: Registered, Name: name, ID: "x", Address: "127.0.0.1", Port: 1}
}

func TestSeqAndTopics(t *testing.T) {
	h := New(Options{})
	h.Publish(mod("before"))
	sub, seq := h.Subscribe(Modules)
	defer sub.Close()
	if seq != 1 {
		t.Fatalf("Subscribe seq = %d, want 1", seq)
	}
	h.Publish(node("n"))
	h.Publish(mod("a"))
	h.Publish(mod("b"))
	got := sub.Take(nil)
	if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 4 || got[0].Name != "a" {
		t.Fatalf("Take = %v", got)
	}
	if s := sub.Add(Nodes); s != 4 {
		t.Fatalf("Add seq = %d", s)
	}
	h.Publish(node("m"))
	if got := sub.Take(nil); len(got) != 1 || got[0].Seq != 5 {
		t.Fatalf("after Add: %v", got)
	}
	if left := sub.Remove(Modules); left != Nodes {
		t.Fatalf("Remove left %v", left)
	}
	h.Publish(mod("c"))
	if got := sub.Take(nil); len(got) != 0 {
		t.Fatalf("after Remove: %v", got)
	}
	if _, err := ParseTopics([]string{"nodes", "weather"}); !errors.Is(err, errdefs.ErrInvalid) {
		t.Fatalf("unknown topic: %v", err)
	}
}

// TestOverflow: a subscriber behind by more than its queue loses what is
// queued, is told once per topic with the last dropped seq, and goes on.
func TestOverflow(t *testing.T) {
	h := New(Options{Queue: 4})
	sub, _ := h.Subscribe(AllTopics)
	defer sub.Close()
	for i := range 10 {
		h.Publish(mod(fmt.Sprint(i)))
	}
	// 1-4 queued, 5 dropped them (overflow at 5), 6-9 queued, 10 dropped them.
	if d := h.Dropped(); d != 10 {
		t.Fatalf("Dropped() = %d after two overflows of 5 events each, want 10", d)
	}
	got := sub.Take(nil)
	if len(got) != 2 || got[0].Event != Overflow || got[0].Topic != TopicNodes || got[1].Topic != TopicModules || got[0].Seq != 10 || got[1].Seq != 10 {
		t.Fatalf("after overflow: %v", got)
	}
	h.Publish(mod("after"))
	if got := sub.Take(nil); len(got) != 1 || got[0].Seq != 11 {
		t.Fatalf("after the overflow: %v", got)
	}
	for i := range 5 {
		h.Publish(mod(fmt.Sprint(i)))
	}
	got = sub.Take(nil)
	if got[0].Event != Overflow || got[0].Seq != 16 || len(got) != 2 {
		t.Fatalf("second overflow: %v", got)
	}
}

func TestResume(t *testing.T) {
	h := New(Options{History: 8})
	for i := range 20 {
		h.Publish(mod(fmt.Sprint(i)))
	}
	sub, err := h.Resume(AllTopics, 15)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	<-sub.Ready()
	got := sub.Take(nil)
	if len(got) != 5 || got[0].Seq != 16 || got[4].Seq != 20 {
		t.Fatalf("resume: %v", got)
	}
	if _, err := h.Resume(AllTopics, 12); err != nil {
		t.Fatalf("resume at the edge of the history (13..20 held): %v", err)
	}
	for _, after := range []uint64{11, 0, 21} {
		if _, err := h.Resume(AllTopics, after); !errors.Is(err, ErrGone) {
			t.Errorf("resume after %d: %v, want ErrGone", after, err)
		}
	}
}

// TestProducerNeverBlocks: a subscriber that never takes costs the
// producer nothing beyond its bounded queue.
func TestProducerNeverBlocks(t *testing.T) {
	h := New(Options{Queue: 1024})
	stuck, _ := h.Subscribe(AllTopics)
	defer stuck.Close()
	reader, _ := h.Subscribe(AllTopics)
	defer reader.Close()
	var wg sync.WaitGroup
	var seen []uint64
	done := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-reader.Ready():
				for _, e := range reader.Take(nil) {
					seen = append(seen, e.Seq)
				}
			case <-done:
				for _, e := range reader.Take(nil) {
					seen = append(seen, e.Seq)
				}
				return
			}
		}
	})
	const n = 100000
	for i := range n {
		h.Publish(mod(fmt.Sprint(i % 10)))
	}
	close(done)
	wg.Wait()
	stuck.mu.Lock()
	ql := len(stuck.q)
	stuck.mu.Unlock()
	if ql > 1024 {
		t.Fatalf("the stuck queue holds %d events, bound 1024", ql)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Fatalf("seq went down: %d after %d", seen[i], seen[i-1])
		}
	}
}

func TestEventJSON(t *testing.T) {
	e := Event{Seq: 46, Topic: TopicModules, Event: Latest, Name: "math"}
	if got := string(e.AppendJSON(nil)); got != `{"seq":46,"topic":"modules","event":"latest","name":"math","version":"","hash":""}` {
		t.Fatalf("latest with no version: %s", got)
	}
	e = Event{Seq: 42, Topic: TopicNodes, Event: Registered, Name: "n", ID: "a\"1", Address: "127.0.0.1", Port: 5}
	if got := string(e.AppendJSON(nil)); got != `{"seq":42,"topic":"nodes","event":"registered","name":"n","id":"a\"1","address":"127.0.0.1","port":5}` {
		t.Fatalf("registered: %s", got)
	}
}

// BenchmarkPublishNoSubscribers: what an event costs when nobody listens.
func BenchmarkPublishNoSubscribers(b *testing.B) {
	h := New(Options{})
	e := mod("m")
	b.ReportAllocs()
	for b.Loop() {
		h.Publish(e)
	}
}

// TestFleetScope: another device's node event (Device set) reaches only
// subscriptions that hold FleetNodes, live and on resume; removing Nodes
// removes the fleet scope with it; its JSON carries device.
func TestFleetScope(t *testing.T) {
	h := New(Options{})
	dev, _ := h.Subscribe(Nodes)
	defer dev.Close()
	fl, _ := h.Subscribe(Nodes | FleetNodes)
	defer fl.Close()
	remote := Event{Topic: TopicNodes, Event: Registered, Name: "car@garage", Device: "garage", ID: "c1", Address: "10.0.0.12", Port: 40001}
	h.Publish(remote)
	h.Publish(node("local"))
	if got := dev.Take(nil); len(got) != 1 || got[0].Name != "local" {
		t.Fatalf("device scope took %v", got)
	}
	got := fl.Take(nil)
	if len(got) != 2 || got[0].Name != "car@garage" || got[1].Name != "local" {
		t.Fatalf("fleet scope took %v", got)
	}
	want := `{"seq":1,"topic":"nodes","event":"registered","name":"car@garage","device":"garage","id":"c1","address":"10.0.0.12","port":40001}`
	if b := got[0].AppendJSON(nil); string(b) != want {
		t.Fatalf("JSON %s, want %s", b, want)
	}
	gone := Event{Topic: TopicNodes, Event: Unregistered, Name: "car@garage", Device: "garage", ID: "c1"}
	if b := gone.AppendJSON(nil); string(b) != `{"seq":0,"topic":"nodes","event":"unregistered","name":"car@garage","device":"garage","id":"c1"}` {
		t.Fatalf("JSON %s", b)
	}
	if left := fl.Remove(Nodes); left != 0 {
		t.Fatalf("Remove(Nodes) left %v, want nothing (the fleet scope goes with nodes)", left)
	}
	h.Publish(remote)
	if got := fl.Take(nil); len(got) != 0 {
		t.Fatalf("after Remove(Nodes): %v", got)
	}
	for _, c := range []struct {
		topics Topics
		want   int
	}{{Nodes, 1}, {Nodes | FleetNodes, 3}} {
		r, err := h.Resume(c.topics, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Take(nil); len(got) != c.want {
			t.Errorf("Resume(%v) replayed %d events, want %d", c.topics, len(got), c.want)
		}
		r.Close()
	}
}
