package main

import (
	"context"
	"log"
	"time"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// eventFeed is the latestFeed of a GPMD that offers `events`: it
// subscribes to `modules` on a connection of its own and passes on each
// EVENT latest. It lists every module's latest (LIST) once after each
// subscription and after an overflow, so that nothing changed while it was
// not subscribed is missed. A GPMD without `events` gets the poll instead.
type eventFeed struct {
	addr string
	poll pollFeed
	log  *log.Logger
}

var _ latestFeed = eventFeed{}

func (f eventFeed) Run(ctx context.Context, notify func(ctx context.Context, name, version, hash string)) {
	backoff := backoffMin
	for ctx.Err() == nil {
		c, _, w, err := dialGMPWelcome(ctx, f.addr)
		if err == nil {
			if !w.Has(wire.FeatureEvents) {
				c.Close()
				f.log.Printf("gpmd at %s offers no events; polling for new latest versions every %v", f.addr, f.poll.every)
				f.poll.Run(ctx, notify)
				return
			}
			err = f.follow(ctx, c, notify)
			backoff = backoffMin
		}
		if ctx.Err() != nil {
			return
		}
		f.log.Printf("module events from gpmd at %s: %v; again in %v", f.addr, err, backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// follow subscribes on c and passes events on until c or ctx ends.
func (f eventFeed) follow(ctx context.Context, c *client.Client, notify func(ctx context.Context, name, version, hash string)) error {
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, requestTimeout)
	sub, err := c.Subscribe(sctx, events.TopicModules)
	cancel()
	if err != nil {
		return err
	}
	resync := func() error {
		lctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		entries, err := c.List(lctx, "")
		if err != nil {
			return err
		}
		for _, e := range entries {
			if v, ok := latestOf(e); ok {
				notify(ctx, e.Name, v.Version, v.Hash)
			}
		}
		return nil
	}
	if err := resync(); err != nil {
		return err
	}
	for e, err := range sub.All(ctx) {
		if err != nil {
			return err
		}
		switch e.Event {
		case events.Latest:
			notify(ctx, e.Name, e.Version, e.Hash)
		case events.Overflow:
			if err := resync(); err != nil {
				return err
			}
		}
	}
	return nil
}
