package gmp

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/ghost-network/gpmd/events"
)

// The speed figures of issue 10, each a ratio or bound measured in one run:
//
//	go test -run XXX -bench 'Subscribers|Fanout|NeverReading' ./gmp/
//
// BenchmarkDiscoverConnectSubscribers reports with-req/s, without-req/s and
// ratio (>= 0.8); BenchmarkEventFanout1000 p99-ms (< 50);
// BenchmarkNeverReadingSubscriber ratio (time with a subscriber that never
// reads over time without it, DISCOVER load and event production both)
// and growth-B against bound-B (the queue's bound).

// subscribeConns opens n connections subscribed to topics.
func subscribeConns(tb testing.TB, addr string, n int, topics string) []*benchConn {
	conns := dialBench(tb, addr, n)
	req := []byte(`{"type":3,"code":1,"id":1,"body":{"topics":` + topics + `}}` + "\n")
	for _, c := range conns {
		if _, err := c.roundTrip(req); err != nil {
			tb.Fatal(err)
		}
	}
	return conns
}

// discoverConnectLoad starts nodes registrations on ts and returns a
// DISCOVER/CONNECT request mix over benchConns connections.
func discoverConnectLoad(tb testing.TB, ts *testServer) ([]*benchConn, func(conn, i int) []byte) {
	const nodes = 32
	regs := dialBench(tb, ts.addr, nodes)
	for i, c := range regs {
		if _, err := c.roundTrip(fmt.Appendf(nil, `{"type":1,"code":1,"id":1,"body":{"name":"node-%d","id":"x","port":%d}}`+"\n", i, 1000+i)); err != nil {
			tb.Fatal(err)
		}
	}
	conns := dialBench(tb, ts.addr, benchConns)
	discover := []byte(`{"type":1,"code":5,"id":1}` + "\n")
	connects := make([][]byte, nodes)
	for i := range connects {
		connects[i] = fmt.Appendf(nil, `{"type":1,"code":7,"id":2,"body":{"name":"node-%d"}}`+"\n", i)
	}
	return conns, func(c, i int) []byte {
		if i%2 == 0 {
			return discover
		}
		return connects[(c+i)%nodes]
	}
}

func BenchmarkDiscoverConnectSubscribers(b *testing.B) {
	with, _ := evServer(b, 0)
	without, _ := evServer(b, 0)
	wconns, wreq := discoverConnectLoad(b, with)
	oconns, oreq := discoverConnectLoad(b, without)
	subscribeConns(b, with.addr, 1000, `["nodes","modules"]`)
	load(b, wconns, 2000, wreq) // warm both
	load(b, oconns, 2000, oreq)
	b.ResetTimer()
	var tw, to time.Duration
	// Alternate in rounds so that both see the same machine.
	for round := range 4 {
		n := b.N/4 + 1
		if round%2 == 0 {
			to += load(b, oconns, n, oreq)
			tw += load(b, wconns, n, wreq)
		} else {
			tw += load(b, wconns, n, wreq)
			to += load(b, oconns, n, oreq)
		}
	}
	b.StopTimer()
	total := float64(4 * (b.N/4 + 1))
	b.ReportMetric(total/tw.Seconds(), "with-req/s")
	b.ReportMetric(total/to.Seconds(), "without-req/s")
	b.ReportMetric(to.Seconds()/tw.Seconds(), "ratio")
}

// BenchmarkEventFanout1000: one event reaches 1,000 subscribers; the
// latency of every delivery, publish to read, gives the p99.
func BenchmarkEventFanout1000(b *testing.B) {
	ts, hub := evServer(b, 0)
	conns := subscribeConns(b, ts.addr, 1000, `["modules"]`)
	var published atomic.Int64 // unix nanoseconds of the event in flight
	lat := make([][]time.Duration, len(conns))
	var got sync.WaitGroup
	var readers sync.WaitGroup
	for i, c := range conns {
		readers.Go(func() {
			for {
				if _, err := c.br.ReadSlice('\n'); err != nil {
					return
				}
				lat[i] = append(lat[i], time.Duration(time.Now().UnixNano()-published.Load()))
				got.Done()
			}
		})
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.c.Close()
		}
		readers.Wait()
	})
	b.ResetTimer()
	for range b.N {
		got.Add(len(conns))
		published.Store(time.Now().UnixNano())
		hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "m", Version: "v1.0.0", Hash: "sha256:x"})
		got.Wait()
	}
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
}

// stalledSubscriber subscribes with a tiny receive window and never reads.
func stalledSubscriber(tb testing.TB, addr string) net.Conn {
	d := net.Dialer{Control: smallRcvBuf}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	fmt.Fprint(c, `{"type":3,"code":1,"id":1,"body":{"topics":["nodes","modules"]}}`+"\n")
	return c
}

// produce publishes n events while a reading subscriber takes them all
// and a DISCOVER load runs; it returns the time all of it took.
func produce(tb testing.TB, ts *testServer, hub *events.Hub, reader *benchConn, conns []*benchConn, req func(int, int) []byte, n int) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { load(tb, conns, n, req) })
	readDone := make(chan int, 1)
	target := hub.Seq() + uint64(n)
	go func() {
		for {
			line, err := reader.br.ReadSlice('\n')
			if err != nil {
				readDone <- -1
				return
			}
			if i := bytes.Index(line, []byte(`"seq":`)); i >= 0 {
				j := i + 6
				for j < len(line) && line[j] >= '0' && line[j] <= '9' {
					j++
				}
				if s, _ := strconv.ParseUint(string(line[i+6:j]), 10, 64); s >= target {
					readDone <- 0
					return
				}
			}
		}
	}()
	for i := range n {
		hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Uploaded, Name: "m", Version: "v1.0." + strconv.Itoa(i), Hash: "sha256:x", Size: 8})
		if i%256 == 255 {
			time.Sleep(100 * time.Microsecond) // an upload rate a reader keeps up with
		}
	}
	wg.Wait()
	if <-readDone != 0 {
		tb.Fatal("the reading subscriber did not get every event")
	}
	return time.Since(start)
}

// BenchmarkNeverReadingSubscriber: a subscriber that never reads slows
// neither event production (what an upload pays), nor a subscriber that
// reads, nor GMP requests: the same work with and without it, as a ratio.
func BenchmarkNeverReadingSubscriber(b *testing.B) {
	with, whub := evServer(b, 0)
	without, ohub := evServer(b, 0)
	stalledSubscriber(b, with.addr)
	wreader := subscribeConns(b, with.addr, 1, `["modules"]`)[0]
	oreader := subscribeConns(b, without.addr, 1, `["modules"]`)[0]
	wconns, wreq := discoverConnectLoad(b, with)
	oconns, oreq := discoverConnectLoad(b, without)
	b.ResetTimer()
	var tw, to time.Duration
	for range b.N {
		to += produce(b, without, ohub, oreader, oconns, oreq, 10000)
		tw += produce(b, with, whub, wreader, wconns, wreq, 10000)
	}
	b.ReportMetric(to.Seconds()/tw.Seconds(), "ratio")
}

// TestNeverReadingSubscriberMemory: while 10,000 events are produced, a
// subscriber that never reads grows the server's heap by no more than its
// queue's bound (compared with the same run without it).
func TestNeverReadingSubscriberMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("memory figures under the race detector mean nothing")
	}
	const queue = 1024
	heapAfter := func(stalled bool) uint64 {
		hub := events.New(events.Options{Queue: queue, History: 16})
		ts := startServer(t, Config{Events: hub})
		if stalled {
			c := stalledSubscriber(t, ts.addr)
			defer c.Close()
			waitFor(t, "the subscription", func() bool { return hub.Subscribers() == 1 })
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.HeapAlloc
		for i := range 10000 {
			hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Uploaded, Name: "module-name", Version: "v1.0." + strconv.Itoa(i), Hash: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 8})
		}
		time.Sleep(100 * time.Millisecond) // let the pump fill the socket and stall
		runtime.GC()
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc < before {
			return 0
		}
		return ms.HeapAlloc - before
	}
	base := heapAfter(false)
	grown := heapAfter(true)
	// The bound: queue events (struct and strings), the slice of pointers,
	// and the pump's batch buffer and taken slice.
	one := uint64(unsafe.Sizeof(events.Event{})) + 11 + 12 + 71
	bound := queue*(one+8) + 2*eventBatchBytes + queue*8 + 64<<10
	t.Logf("heap growth: %d B without, %d B with a never-reading subscriber; bound %d B", base, grown, bound)
	if grown > base+bound {
		t.Fatalf("a never-reading subscriber grew the heap by %d B more than without it, past its bound of %d B", grown-base, bound)
	}
}
