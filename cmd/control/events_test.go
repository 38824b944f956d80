package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp"
)

// newEventServer is a control server whose event stream carries hub's
// events (a history of 4), and a client of it; both stop with the test.
func newEventServer(t *testing.T) (*events.Hub, *client.Client) {
	hub := events.New(events.Options{History: 4})
	g := gmp.NewServer(gmp.Config{Events: hub})
	s := NewServer(Config{Events: g})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(s.StopStreams) // first: a stream holds srv.Close
	c := client.NewClient(srv.Listener.Addr().String(), "")
	t.Cleanup(c.Close)
	return hub, c
}

// TestEventStream: GET /v1/events starts with "subscribed", carries the
// hub's events with id = seq, resumes after Last-Event-ID, answers a resume
// that cannot be served with "resync", and refuses an unknown topic.
func TestEventStream(t *testing.T) {
	hub, c := newEventServer(t)

	hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "before"})
	follow := func(topics string, last uint64, n int) []api.StreamMessage {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var got []api.StreamMessage
		errDone := errors.New("done")
		err := c.Events(ctx, topics, "", last, func(m api.StreamMessage) error {
			got = append(got, m)
			if len(got) == n {
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			t.Fatalf("Events(%q, %d): %v after %+v", topics, last, err, got)
		}
		return got
	}
	go func() {
		// Published once the stream below is subscribed.
		for hub.Subscribers() == 0 {
			time.Sleep(time.Millisecond)
		}
		hub.Publish(events.Event{Topic: events.TopicNodes, Event: events.Registered, Name: "n1", ID: "a", Address: "127.0.0.1", Port: 1})
		hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "m"})
	}()
	got := follow("modules", 0, 2)
	if got[0].Kind != api.StreamSubscribed || got[0].Start.Seq != 1 || len(got[0].Start.Topics) != 1 {
		t.Fatalf("start = %+v", got[0])
	}
	if got[1].Event.Seq != 3 || got[1].Event.Name != "m" {
		t.Fatalf("event = %+v", got[1].Event)
	}
	// Resume after 1: events 2 and 3, no start message.
	got = follow("", 1, 2)
	if got[0].Kind != "" || got[0].Event.Seq != 2 || got[1].Event.Seq != 3 {
		t.Fatalf("resume = %+v", got)
	}
	// Beyond the history (4 events) and beyond the last seq: resync.
	for range 5 {
		hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Latest, Name: "x"})
	}
	for _, last := range []uint64{2, 99} {
		got = follow("nodes", last, 1)
		if got[0].Kind != api.StreamResync || got[0].Start.Seq != 8 || got[0].Start.Message == "" {
			t.Fatalf("resume after %d = %+v", last, got[0])
		}
	}
	var ae *api.APIError
	if err := c.Events(t.Context(), "weather", "", 0, func(api.StreamMessage) error { return nil }); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("unknown topic: %v", err)
	}
	// An unknown scope, and the fleet scope of a gpmd in no fleet: 400.
	for _, scope := range []string{"galaxy", api.ScopeFleet} {
		if err := c.Events(t.Context(), "nodes", scope, 0, func(api.StreamMessage) error { return nil }); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !errors.Is(err, errdefs.ErrInvalid) {
			t.Fatalf("scope %s: %v", scope, err)
		}
	}
	// Without a hub: unavailable.
	bare := httptest.NewServer(NewServer(Config{}))
	defer bare.Close()
	bc := client.NewClient(bare.Listener.Addr().String(), "")
	defer bc.Close()
	if err := bc.Events(t.Context(), "", "", 0, func(api.StreamMessage) error { return nil }); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("no hub: %v", err)
	}
}
