package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/fleet/fleetinfo"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// Fleet is one device's membership of a fleet. Create it with New, start it
// with Start, stop it with Close. Every method is safe for concurrent use.
type Fleet struct {
	cfg     Config
	log     *slog.Logger
	rejects rateLimiter
	view    *view
	started time.Time

	// wake tells the writer that dirty has names (capacity 1: a pending
	// wake-up covers every change made before it is taken).
	wake chan struct{}
	// connected tells the writer that a connection was (re)established.
	connected chan struct{}

	// mu guards the fields below.
	mu        sync.Mutex
	local     map[string]Node     // our registrations: the desired state
	dirty     map[string]struct{} // names whose bucket entry lags local
	strays    map[string]struct{} // our names found in the bucket, not local
	conn      connState
	nc        *nats.Conn
	kv        jetstream.KeyValue
	cancel    context.CancelFunc
	done      chan struct{}
	startOnce bool
}

// connState is what Status reports about the connection.
type connState struct {
	up        bool
	since     time.Time // when up last changed (Start time before any)
	url       string
	lastErr   string
	lastErrAt time.Time
	// serverExpiry: the bucket expires entries within our expiry and
	// emits markers, so watchers learn of every expiry from the server.
	serverExpiry bool
}

// New checks cfg and returns a Fleet that is not connected yet. A bad
// setting is an error wrapping errdefs.ErrInvalid.
func New(cfg Config) (*Fleet, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Fleet{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "fleet", "device", cfg.Device),
		view:      newView(cfg.OnEvent),
		wake:      make(chan struct{}, 1),
		connected: make(chan struct{}, 1),
		local:     map[string]Node{},
		dirty:     map[string]struct{}{},
		strays:    map[string]struct{}{},
	}
	f.rejects = rateLimiter{every: 10 * time.Second, burst: 10}
	return f, nil
}

// Start connects in the background and returns at once: an unreachable
// NATS never delays the daemon. The fleet works until Close or until ctx is
// done; either way Close must be called, as it closes the connection.
// Start may be called once.
func (f *Fleet) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startOnce {
		return fmt.Errorf("fleet: started twice: %w", errdefs.ErrConflict)
	}
	f.startOnce = true
	f.started = time.Now()
	f.conn.since = f.started
	ctx, f.cancel = context.WithCancel(ctx)
	f.done = make(chan struct{})
	go f.run(ctx)
	return nil
}

// Close leaves the fleet: it stops the background work, deletes this
// device's entries from the bucket (bounded by ctx; what is left expires)
// and closes the connection. Close is idempotent.
func (f *Fleet) Close(ctx context.Context) error {
	if !f.stop() {
		return nil
	}
	f.mu.Lock()
	nc, kv := f.nc, f.kv
	names := make([]string, 0, len(f.local))
	for n := range f.local {
		names = append(names, n)
	}
	f.mu.Unlock()
	if nc == nil {
		return nil
	}
	defer nc.Close()
	if kv == nil || !nc.IsConnected() {
		return nil
	}
	// The device entry first: with it gone every other device drops all
	// our nodes at once; the node deletes then just tidy the bucket.
	keys := []string{deviceKey(f.cfg.Device)}
	for _, n := range names {
		keys = append(keys, nodeKey(f.cfg.Device, n))
	}
	for _, k := range keys {
		if err := kv.Delete(ctx, k); err != nil {
			return fmt.Errorf("fleet: deleting our entry %s (the rest expires): %w", k, err)
		}
	}
	return nil
}

// stop ends the background goroutines and waits for them; it reports
// whether this call stopped them.
func (f *Fleet) stop() bool {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.cancel = nil
	f.mu.Unlock()
	if cancel == nil {
		return false
	}
	cancel()
	<-done
	return true
}

// Register publishes (or replaces) a local node. It never blocks: the
// write happens on the writer goroutine. The node must follow GMP's rules.
func (f *Fleet) Register(n Node) error {
	if !ValidName(n.Name) || !wire.ValidNodeID(n.ID) || n.Port < 1 || n.Port > 65535 {
		return fmt.Errorf("fleet: node %q: name, id or port breaks the GMP rules: %w", n.Name, errdefs.ErrInvalid)
	}
	f.mu.Lock()
	f.local[n.Name] = n
	f.dirty[n.Name] = struct{}{}
	f.mu.Unlock()
	f.poke(f.wake)
	return nil
}

// Unregister deletes a local node from the bucket. It never blocks;
// unregistering a name that is not registered is a no-op.
func (f *Fleet) Unregister(name string) {
	f.mu.Lock()
	if _, ok := f.local[name]; !ok {
		f.mu.Unlock()
		return
	}
	delete(f.local, name)
	f.dirty[name] = struct{}{}
	f.mu.Unlock()
	f.poke(f.wake)
}

// stray is called for each node entry of our device in a watcher's initial
// snapshot: one that is not registered here is a leftover of a previous run
// of this device (killed before it could delete it) and is deleted now
// rather than served by the others until it expires.
func (f *Fleet) stray(name string) {
	f.mu.Lock()
	_, local := f.local[name]
	if !local {
		f.strays[name] = struct{}{}
		f.dirty[name] = struct{}{}
	}
	f.mu.Unlock()
	if !local {
		f.poke(f.wake)
	}
}

func (f *Fleet) poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Discover returns the discoverable nodes of the other devices, sorted as
// their strings name@device compare. The slice is shared and read-only: do not modify it.
func (f *Fleet) Discover() []fleetinfo.RemoteNode { return f.view.discover() }

// Names returns Discover's nodes as name@device, in the same order. The
// slice is shared and read-only.
func (f *Fleet) Names() []string { return f.view.discoverNames() }

// NamesVersion returns Names with a version that changes whenever the list
// may have: a caller caches what it derives from the list (the encoded
// NODES reply of a DISCOVER with fleet scope) until the version moves.
func (f *Fleet) NamesVersion() ([]string, uint64) { return f.view.namesVersion() }

// Snapshot runs fn with Names as of an instant between two changes of the
// local copy: every change before it is in names, and the OnEvent calls of
// every change after it come after fn returns (changes and their events
// are applied under one lock, which fn holds). A subscriber that starts
// its subscription inside fn (GMP's SUBSCRIBE with fleet scope) sees each
// change exactly once, in names or as an event. fn must be quick and must
// not wait for a change; names is shared and read-only.
func (f *Fleet) Snapshot(fn func(names []string)) { f.view.snapshot(fn) }

// Lookup finds name on device (discoverable or not). A miss wraps
// errdefs.ErrNotFound; while the fleet is unreachable its message says so.
func (f *Fleet) Lookup(name, device string) (fleetinfo.RemoteNode, error) {
	if n, ok := f.view.lookup(name, device); ok {
		return n, nil
	}
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	if !c.up {
		return fleetinfo.RemoteNode{}, fmt.Errorf("node %s@%s: the fleet is unreachable (since %s): %w",
			name, device, c.since.UTC().Format(time.RFC3339), errdefs.ErrNotFound)
	}
	return fleetinfo.RemoteNode{}, fmt.Errorf("node %s@%s: %w", name, device, errdefs.ErrNotFound)
}

// Status reports the connection and the local copy; it never waits on NATS.
func (f *Fleet) Status() fleetinfo.Status {
	devices, nodes := f.view.counts()
	f.mu.Lock()
	defer f.mu.Unlock()
	url := f.conn.url
	if url == "" {
		url = fleetinfo.RedactURLs(strings.Join(f.cfg.URLs, ","))
	}
	return fleetinfo.Status{
		URL: url, Device: f.cfg.Device, Bucket: f.cfg.Bucket, Expiry: f.cfg.Expiry,
		Connected: f.conn.up, Since: f.conn.since, Devices: devices, Nodes: nodes,
		LastError: f.conn.lastErr, LastErrorAt: f.conn.lastErrAt,
	}
}

// setErr records err as the last error and logs it, unless it repeats the
// last error (a failed reconnect repeats every backoff step).
func (f *Fleet) setErr(what string, err error) {
	msg := what + ": " + err.Error()
	f.mu.Lock()
	repeat := f.conn.lastErr == msg
	f.conn.lastErr, f.conn.lastErrAt = msg, time.Now()
	f.mu.Unlock()
	if !repeat {
		f.log.Warn("fleet: "+what, "err", err)
	}
}

func (f *Fleet) setUp(up bool, url string) {
	f.mu.Lock()
	changed := f.conn.up != up
	if changed {
		f.conn.up, f.conn.since = up, time.Now()
	}
	if up {
		f.conn.url = url
	}
	f.mu.Unlock()
	if changed && up {
		f.log.Info("fleet: connected", "url", url)
	} else if changed {
		f.log.Warn("fleet: the fleet is unreachable", "url", url)
	}
	if up {
		f.poke(f.connected)
	}
}

// natsOptions turns the config into nats.go options: reconnect forever
// with a capped, jittered backoff, no reconnect buffer (the writer rewrites
// everything after a reconnect, so nothing stale is replayed).
func (f *Fleet) natsOptions() ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("gpmd/" + f.cfg.Device),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(f.backoff),
		nats.Timeout(2 * time.Second),
		// Ping often enough that a silent server is noticed within about
		// the expiry.
		nats.PingInterval(f.cfg.Heartbeat()),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(nc *nats.Conn) { f.setUp(true, nc.ConnectedUrlRedacted()) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { f.setUp(true, nc.ConnectedUrlRedacted()) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				f.setErr("disconnected", err)
			}
			f.setUp(false, "")
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { f.setErr("reconnect", err) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { f.setErr("nats", err) }),
	}
	if f.cfg.TokenFile != "" {
		b, err := os.ReadFile(f.cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Token(strings.TrimSpace(string(b))))
	}
	if f.cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(f.cfg.CredsFile))
	}
	if f.cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(f.cfg.TLSCA))
	}
	if f.cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(f.cfg.TLSCert, f.cfg.TLSKey))
	}
	return opts, nil
}

// backoff is the reconnect delay: from 100 ms, doubling, at most 5 s and
// at most one heartbeat (so that a server that comes back is found well
// within the expiry), with up to 20% jitter so devices do not reconnect in
// step.
func (f *Fleet) backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(max(attempt-1, 0), 6)
	d = min(d, maxReconnectWait, f.cfg.Heartbeat())
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}

// run is the writer: it owns the connection, binds the bucket, runs the
// watcher and keeps our entries in the bucket. It exits when ctx is done.
func (f *Fleet) run(ctx context.Context) {
	defer close(f.done)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { f.sweeper(ctx) })

	opts, err := f.natsOptions()
	if err != nil {
		f.setErr("options", err)
		return
	}
	var nc *nats.Conn
	for attempt := 1; ; attempt++ {
		nc, err = nats.Connect(strings.Join(f.cfg.URLs, ","), opts...)
		if err == nil {
			break
		}
		// RetryOnFailedConnect covers unreachable servers; what is left
		// (a bad credentials file, say) is retried too, slowly.
		f.setErr("connect", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.backoff(attempt + 5)):
		}
	}
	f.mu.Lock()
	f.nc = nc
	f.mu.Unlock()
	js, err := jetstream.New(nc)
	if err != nil {
		f.setErr("jetstream", err)
		return
	}
	w := &writer{f: f, js: js, written: map[string]struct{}{}}
	defer w.stopWatch()
	for ctx.Err() == nil {
		if !nc.IsConnected() {
			select {
			case <-ctx.Done():
				return
			case <-f.connected:
			}
			continue
		}
		// Drain a stale connected signal: this session handles it.
		select {
		case <-f.connected:
		default:
		}
		w.session(ctx, nc)
	}
}

// rateLimiter lets burst log lines through per period and counts the rest.
type rateLimiter struct {
	every      time.Duration
	burst      int
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

// allow reports whether to log now, and how many lines were suppressed
// since the last line logged.
func (r *rateLimiter) allow(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.start) >= r.every {
		r.start, r.n = now, 0
	}
	if r.n >= r.burst {
		r.suppressed++
		return false, 0
	}
	r.n++
	s := r.suppressed
	r.suppressed = 0
	return true, s
}

// reject logs a bucket entry that is not served, rate-limited.
func (f *Fleet) reject(key string, err error) {
	if ok, suppressed := f.rejects.allow(time.Now()); ok {
		f.log.Warn("fleet: ignoring a bucket entry", "key", key, "reason", err, "suppressed", suppressed)
	}
}

// sweeper clears what was not refreshed: everything once the fleet has
// been unreachable for the expiry, and (servers without expiry markers
// only) entries not seen for the bucket's max age. It runs every
// sweepEvery, so a sweep lands within the ExpiryMargin.
func (f *Fleet) sweeper(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			f.mu.Lock()
			c := f.conn
			f.mu.Unlock()
			if !c.up && now.Sub(c.since) >= f.cfg.Expiry-sweepEvery {
				f.view.sweep(now.Add(time.Hour)) // everything
				continue
			}
			if !c.serverExpiry {
				// Without expiry markers nothing tells us that an entry
				// expired in the bucket: drop, on our clock, what was not
				// refreshed for the bucket's max age (a live device
				// refreshes three times in it). With markers the server
				// decides (a watcher that lags under load must not drop
				// entries whose refresh it has not read yet).
				f.view.sweep(now.Add(-f.cfg.BucketTTL()))
			}
		}
	}
}

// marshalNode is our value for a local node.
func (f *Fleet) marshalNode(n Node) []byte {
	b, _ := json.Marshal(fleetinfo.RemoteNode{
		Name: n.Name, ID: n.ID, Device: f.cfg.Device, Address: f.cfg.Advertise,
		Port: n.Port, Discoverable: n.Discoverable,
	})
	return b
}

func (f *Fleet) marshalDevice() []byte {
	b, _ := json.Marshal(deviceEntry{
		Device: f.cfg.Device, Address: f.cfg.Advertise, Version: f.cfg.Version, Started: f.started.UTC(),
	})
	return b
}
