package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// writeBatch bounds the asynchronous publishes in flight at once (nats.go
// stalls beyond its own limit of 4000).
const writeBatch = 512

// writer is the state of the run goroutine; nothing else touches it.
type writer struct {
	f       *Fleet
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	attempt int // failed sessions in a row, for the backoff
	// written holds the names that may have an entry in the bucket, so an
	// unregister of a name never written costs nothing.
	written   map[string]struct{}
	watchStop func()
	watchDone chan struct{}
}

// session runs one connection's worth of work: bind the bucket, start the
// watcher, rewrite everything, then follow local changes and the heartbeat
// until the connection is re-established, the watcher ends, or ctx ends.
func (w *writer) session(ctx context.Context, nc *nats.Conn) {
	f := w.f
	if err := w.bind(ctx); err != nil {
		f.setErr("bucket "+f.cfg.Bucket, err)
		w.pause(ctx)
		return
	}
	if err := w.startWatch(ctx); err != nil {
		f.setErr("watch", err)
		w.pause(ctx)
		return
	}
	if err := w.rewriteAll(ctx); err != nil {
		f.setErr("write", err)
	} else {
		w.attempt = 0
	}
	hb := time.NewTicker(f.cfg.Heartbeat())
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.connected:
			// Reconnected (maybe to a restarted server): start over so
			// that what expired meanwhile is restored and the local copy
			// is rebuilt from a fresh snapshot.
			return
		case <-w.watchDone:
			if ctx.Err() == nil {
				f.setErr("watch", errors.New("the bucket watcher ended"))
				w.pause(ctx)
			}
			return
		case <-f.wake:
			if !nc.IsConnected() {
				// The names stay dirty; the reconnect rewrites them all.
				continue
			}
			if err := w.flush(ctx); err != nil {
				f.setErr("write", err)
			}
		case <-hb.C:
			if !nc.IsConnected() {
				continue
			}
			if err := w.rewriteAll(ctx); err != nil {
				f.setErr("heartbeat", err)
			}
		}
	}
}

// pause waits a backoff step before the next session.
func (w *writer) pause(ctx context.Context) {
	w.attempt++
	t := time.NewTimer(w.f.backoff(w.attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// bind opens the bucket, creating it when missing. Created here, it has
// the bucket's max age (the expiry less ExpiryMargin), one value per key,
// and (nats-server 2.11+) limit markers so that expiry reaches every
// watcher as a delete.
func (w *writer) bind(ctx context.Context) error {
	f := w.f
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	kv, err := w.js.KeyValue(ctx, f.cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		cfg := BucketConfig(f.cfg.Bucket, f.cfg.Expiry)
		kv, err = w.js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			cfg.LimitMarkerTTL = 0
			kv, err = w.js.CreateKeyValue(ctx, cfg)
		}
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = w.js.KeyValue(ctx, f.cfg.Bucket)
		}
	}
	if err != nil {
		return err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return err
	}
	ttl := f.cfg.BucketTTL()
	if st.TTL() == 0 || st.TTL() > ttl {
		// Someone else made the bucket (or an older GPMD, whose max age
		// was the expiry itself): the server may keep a dead device's
		// entries past our expiry. Serve anyway; the local sweep drops
		// entries not refreshed for our bucket max age.
		f.log.Warn("fleet: the bucket's max age is longer than this expiry allows", "bucket_ttl", st.TTL(), "want_at_most", ttl, "expiry", f.cfg.Expiry)
	}
	f.mu.Lock()
	f.kv = kv
	f.conn.serverExpiry = st.LimitMarkerTTL() > 0 && st.TTL() > 0 && st.TTL() <= ttl
	f.mu.Unlock()
	w.kv = kv
	return nil
}

// BucketConfig is the bucket a Fleet of this expiry creates when it finds
// none: one value per key, max age = expiry - ExpiryMargin (so an entry
// not refreshed has left every watcher by the expiry), values up to
// MaxValueSize, and limit markers (nats-server 2.11+) so that expiry
// reaches every watcher as a delete. An operator who denies devices the
// right to create streams creates the bucket with it (or its equivalent
// in the nats CLI, docs/fleet.md).
func BucketConfig(bucket string, expiry time.Duration) jetstream.KeyValueConfig {
	ttl := bucketTTL(expiry)
	return jetstream.KeyValueConfig{
		Bucket:         bucket,
		Description:    "GPMD fleet: device and node entries (issue 13)",
		History:        1,
		TTL:            ttl,
		MaxValueSize:   MaxValueSize,
		Storage:        jetstream.FileStorage,
		LimitMarkerTTL: ttl,
	}
}

// startWatch replaces the watcher with a new generation: its initial
// snapshot replaces the local copy, then its updates are applied.
func (w *writer) startWatch(ctx context.Context) error {
	w.stopWatch()
	wctx, cancel := context.WithCancel(ctx)
	kw, err := w.kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return err
	}
	gen := w.f.view.newGen()
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.f.watchLoop(wctx, kw, gen)
	}()
	w.watchDone = done
	w.watchStop = func() {
		cancel()
		_ = kw.Stop()
		<-done
	}
	return nil
}

func (w *writer) stopWatch() {
	if w.watchStop != nil {
		w.watchStop()
		w.watchStop, w.watchDone = nil, nil
	}
}

// watchLoop reads one watcher until it ends.
func (f *Fleet) watchLoop(ctx context.Context, kw jetstream.KeyWatcher, gen uint64) {
	snap := state{}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-kw.Updates():
			if !ok {
				return
			}
			if e == nil { // the initial snapshot is complete
				if snap != nil {
					f.view.replace(gen, snap)
					snap = nil
				}
				continue
			}
			u, ok, err := parseEntry(f.cfg.Device, e)
			if err != nil {
				f.reject(e.Key(), err)
				continue
			}
			if !ok {
				if snap != nil && u.name != "" {
					f.stray(u.name)
				}
				continue
			}
			if snap != nil {
				u.applyTo(snap, time.Now())
			} else {
				f.view.apply(gen, u)
			}
		}
	}
}

// rewriteAll writes the device entry and every local node again: the
// heartbeat, and the restore after a reconnect.
func (w *writer) rewriteAll(ctx context.Context) error {
	f := w.f
	f.mu.Lock()
	for n := range f.local {
		f.dirty[n] = struct{}{}
	}
	for n := range w.written {
		f.dirty[n] = struct{}{}
	}
	f.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, opTimeout)
	_, err := w.kv.Put(pctx, deviceKey(f.cfg.Device), f.marshalDevice())
	cancel()
	if err != nil {
		return fmt.Errorf("device entry: %w", err)
	}
	return w.flush(ctx)
}

// flush brings the bucket in line with the dirty names: puts in batches of
// asynchronous publishes, deletes one by one. A name that fails stays
// dirty for the next flush, heartbeat or reconnect.
func (w *writer) flush(ctx context.Context) error {
	f := w.f
	type put struct {
		name string
		val  []byte
	}
	f.mu.Lock()
	var puts []put
	var dels []string
	for name := range f.dirty {
		if n, ok := f.local[name]; ok {
			puts = append(puts, put{name, f.marshalNode(n)})
		} else if _, ok := w.written[name]; ok {
			dels = append(dels, name)
		} else if _, ok := f.strays[name]; ok {
			dels = append(dels, name)
		}
	}
	clear(f.dirty)
	f.mu.Unlock()

	var failed []string
	var errs []error
	for len(puts) > 0 {
		batch := puts[:min(len(puts), writeBatch)]
		puts = puts[len(batch):]
		futs := make([]jetstream.PubAckFuture, len(batch))
		for i, p := range batch {
			w.written[p.name] = struct{}{}
			subj := "$KV." + f.cfg.Bucket + "." + nodeKey(f.cfg.Device, p.name)
			fut, err := w.js.PublishAsync(subj, p.val)
			if err != nil {
				errs = append(errs, err)
				failed = append(failed, p.name)
				continue
			}
			futs[i] = fut
		}
		timer := time.NewTimer(opTimeout)
		for i, fut := range futs {
			if fut == nil {
				continue
			}
			select {
			case <-fut.Ok():
			case err := <-fut.Err():
				errs = append(errs, err)
				failed = append(failed, batch[i].name)
			case <-timer.C:
				errs = append(errs, errors.New("no acknowledgement"))
				failed = append(failed, batch[i].name)
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		}
		timer.Stop()
	}
	for _, name := range dels {
		dctx, cancel := context.WithTimeout(ctx, opTimeout)
		err := w.kv.Delete(dctx, nodeKey(f.cfg.Device, name))
		cancel()
		if err != nil {
			errs = append(errs, err)
			failed = append(failed, name)
			continue
		}
		delete(w.written, name)
		f.mu.Lock()
		delete(f.strays, name)
		f.mu.Unlock()
	}
	if len(failed) > 0 {
		f.mu.Lock()
		for _, n := range failed {
			f.dirty[n] = struct{}{}
		}
		f.mu.Unlock()
		return fmt.Errorf("%d of our entries not written, the first: %w", len(failed), errs[0])
	}
	return nil
}
