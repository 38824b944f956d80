package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/gvm/peer"
	"github.com/ghost-network/gpmd/gvm/runner"
)

// defaultPollInterval is how often --follow-latest asks GPMD for the
// latest versions (LIST) until GPMD offers module events.
const defaultPollInterval = time.Second

type serveOptions struct {
	*globals
	name         string
	listen       string
	port         int
	discoverable bool
	followLatest bool
	pollInterval time.Duration
	dirs         []string
	peer         string        // where the modules' host calls that name no node go
	callTimeout  time.Duration // bounds each such call
}

func newCmdServe(g *globals) *cobra.Command {
	o := &serveOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "serve --name N [--port P] [--discoverable=false] [--follow-latest] [--peer NODE]",
		Short: "Stay registered with GPMD and run calls from other nodes",
		Long: `serve listens on --listen:--port (127.0.0.1 and a free port by default),
registers with GPMD under --name with that port, and runs the calls other
nodes send (gvm call; the protocol is in docs/gvm.md). A module is fetched
on its first call and stays loaded.

With --follow-latest, a module loaded as "latest" switches to a new
latest version between calls, never during one. Until GPMD offers module
events, gvm learns of new versions by asking (LIST) every
--poll-interval.

The modules it runs may call functions on other nodes through the host
module gvm (call_i32, docs/gvm.md): the node finds the other node with
CONNECT, keeps one connection to it, and bounds each call by
--call-timeout. A call that names no node goes to --peer.

When GPMD goes away (restart, crash), serve keeps answering calls with the
modules it has, reconnects with a backoff (100 ms, doubling, at most 5 s)
and registers again. SIGINT or SIGTERM unregisters and exits 0.

` + exitStatusHelp,
		Example: `  $ gvm serve --name calc
  $ gvm serve --name calc --port 7001 --follow-latest
  $ gvm serve --name hidden --discoverable=false
  $ gvm serve --name node-a --peer node-b   # relay.add_via runs math.add on node-b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "node name to register (required)")
	f.StringVar(&o.listen, "listen", "127.0.0.1", "address to listen on for other nodes")
	f.IntVar(&o.port, "port", 0, "port to listen on (0: a free one)")
	f.BoolVar(&o.discoverable, "discoverable", true, "list this node in DISCOVER (CONNECT by name works either way)")
	f.BoolVar(&o.followLatest, "follow-latest", false, "switch modules loaded as latest to each new latest version, between calls")
	f.DurationVar(&o.pollInterval, "poll-interval", defaultPollInterval, "with --follow-latest, how often to ask GPMD for new versions when it offers no events")
	f.StringArrayVar(&o.dirs, "dir", nil, "a host folder the modules may use through WASI (repeatable)")
	f.StringVar(&o.peer, "peer", "", "the node that modules' host calls naming no node go to (gvm.call_i32)")
	f.DurationVar(&o.callTimeout, "call-timeout", defaultCallTimeout, "bound on each call a module makes to another node")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagDirname("dir")
	return cmd
}

func (o *serveOptions) run(ctx context.Context) error {
	if o.pollInterval <= 0 {
		return &usageError{msg: "--poll-interval must be positive"}
	}
	if o.callTimeout <= 0 {
		return &usageError{msg: "--call-timeout must be positive"}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(o.listen, strconv.Itoa(o.port)))
	if err != nil {
		return &usageError{msg: fmt.Sprintf("cannot listen on %s:%d: %v", o.listen, o.port, err)}
	}
	defer l.Close()
	cache := &moduleCache{dir: o.cacheDir}
	var n *node // set before any call can run
	out := newOutbound(func() *client.Client { return n.client() }, o.callTimeout)
	rt, err := runner.New(ctx, runner.Options{CacheDir: cache.compileDir(), Stdout: o.stdout, Stderr: o.stderr, Dirs: o.dirs,
		Peers: out, DefaultPeer: o.peer})
	if err != nil {
		return err
	}
	defer rt.Close(context.Background())

	n = &node{
		reg:   registration{name: o.name, id: newNodeID(), port: portOf(l.Addr()), discoverable: o.discoverable},
		addr:  o.gmpAddr,
		cache: cache,
		rt:    rt,
		log:   log.New(o.stderr, "gvm "+o.name+": ", log.LstdFlags),
		mods:  map[modKey]*loaded{},
	}
	// The first registration fails the command: GPMD not running, or the
	// name taken, are the caller's to fix.
	c, _, err := dialGMP(ctx, o.gmpAddr)
	if err != nil {
		return err
	}
	if err := n.reg.register(ctx, c); err != nil {
		c.Close()
		return err
	}
	n.setClient(c)
	fmt.Fprintf(o.stdout, "node %s registered, serving on %s\n", o.name, l.Addr())

	srv := peer.NewServer(n)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	var bg sync.WaitGroup // end with ctx
	bg.Go(func() { n.keepRegistered(ctx) })
	if o.followLatest {
		// Module events when GPMD offers them, polling when it does not.
		var feed latestFeed = eventFeed{addr: o.gmpAddr, poll: pollFeed{n: n, every: o.pollInterval}, log: n.log}
		bg.Go(func() { feed.Run(ctx, n.onLatest) })
	}
	<-ctx.Done()
	// Leave GPMD first, so that no peer finds a node that is closing; no
	// reconnect can register it again once bg has ended.
	bg.Wait()
	if c := n.client(); c != nil {
		unregister(c)
	}
	srv.Close()
	<-served
	out.Close()
	n.closeModules()
	return nil
}

// modKey is a module as calls name it: the version as asked ("" latest).
type modKey struct{ name, version string }

// loaded is a module instance and the version it is.
type loaded struct {
	m    *runner.Module
	info wire.ModuleInfo
}

// node is a serving GVM: its GMP session and its loaded modules. It is the
// peer.Handler of its server.
type node struct {
	reg   registration
	addr  string
	cache *moduleCache
	rt    *runner.Runtime
	log   *log.Logger

	// mu guards c and mods.
	mu   sync.Mutex
	c    *client.Client // nil while GPMD is away
	mods map[modKey]*loaded

	// loadMu serialises fetching and loading, so concurrent first calls
	// load a module once, and a switch to a new latest happens once.
	loadMu sync.Mutex
}

var _ peer.Handler = (*node)(nil)

func (n *node) client() *client.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.c
}

func (n *node) setClient(c *client.Client) {
	n.mu.Lock()
	n.c = c
	n.mu.Unlock()
}

func (n *node) lookup(k modKey) *loaded {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mods[k]
}

// Call runs a call from another node.
func (n *node) Call(ctx context.Context, c peer.Call) ([]string, error) {
	// A module switched to a new latest between the lookup and the call is
	// closed before the call began: the call then runs on its successor.
	version := c.Version
	if version == "latest" {
		version = "" // one instance for both spellings, which --follow-latest follows
	}
	for range 3 {
		l, err := n.module(ctx, modKey{c.Module, version})
		if err != nil {
			return nil, err
		}
		res, err := l.m.Call(ctx, c.Function, c.Args)
		if errors.Is(err, runner.ErrClosed) {
			continue
		}
		return res, err
	}
	return nil, fmt.Errorf("module %s kept changing: %w", c.Module, errdefs.ErrUnavailable)
}

// module returns the loaded module for k, fetching and loading it on first
// use.
func (n *node) module(ctx context.Context, k modKey) (*loaded, error) {
	if l := n.lookup(k); l != nil {
		return l, nil
	}
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if l := n.lookup(k); l != nil {
		return l, nil
	}
	l, err := n.load(ctx, k)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.mods[k] = l
	n.mu.Unlock()
	return l, nil
}

// load fetches and instantiates k. Callers hold loadMu.
func (n *node) load(ctx context.Context, k modKey) (*loaded, error) {
	c := n.client()
	if c == nil {
		return nil, fmt.Errorf("module %s: gpmd is not reachable right now (reconnecting): %w", k.name, errdefs.ErrUnavailable)
	}
	f := &fetcher{src: gmpSource{c: c}, c: c, cache: n.cache}
	info, wasm, err := f.fetch(ctx, k.name, k.version)
	if err != nil {
		return nil, err
	}
	m, err := n.rt.Load(ctx, k.name+"@"+info.Version, wasm)
	if err != nil {
		return nil, err
	}
	return &loaded{m: m, info: info}, nil
}

// onLatest switches a module loaded as latest to version/hash, when that
// differs from what is loaded: the new one is loaded first, then swapped
// in, then the old one closed once its call in progress (if any) ends.
func (n *node) onLatest(ctx context.Context, name, version, hash string) {
	k := modKey{name: name}
	old := n.lookup(k)
	if old == nil || old.info.Hash == hash || hash == "" {
		return // not loaded as latest, unchanged, or no version left: keep serving what we have
	}
	n.loadMu.Lock()
	defer n.loadMu.Unlock()
	if old = n.lookup(k); old == nil || old.info.Hash == hash {
		return // switched or dropped while we waited for loadMu
	}
	l, err := n.load(ctx, k)
	if err != nil {
		n.log.Printf("module %s: staying on %s: %v", name, old.info.Version, err)
		return
	}
	n.mu.Lock()
	n.mods[k] = l
	n.mu.Unlock()
	old.m.Close(ctx)
	n.log.Printf("module %s: switched from %s to %s", name, old.info.Version, l.info.Version)
}

func (n *node) closeModules() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for k, l := range n.mods {
		l.m.Close(context.Background())
		delete(n.mods, k)
	}
}

// keepRegistered waits for the GMP connection to end and then reconnects
// and registers again, with the backoff of GMP.md, until ctx ends.
func (n *node) keepRegistered(ctx context.Context) {
	for {
		c := n.client()
		select {
		case <-ctx.Done():
			return
		case <-c.Done():
		}
		n.setClient(nil)
		n.log.Printf("lost gpmd at %s (%v); reconnecting", n.addr, c.Err())
		backoff := backoffMin
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, backoffMax)
			nc, _, err := dialGMP(ctx, n.addr)
			if err != nil {
				continue
			}
			if err := n.reg.register(ctx, nc); err != nil {
				n.log.Printf("register again: %v", err)
				nc.Close()
				continue
			}
			n.setClient(nc)
			n.log.Printf("registered again with gpmd at %s", n.addr)
			break
		}
	}
}

// latestFeed tells a serving node the latest version of each module.
// eventFeed (feed.go) follows EVENT latest on a `modules` subscription;
// pollFeed asks, for a GPMD without the `events` feature.
type latestFeed interface {
	// Run calls notify for modules whose latest may have changed, until
	// ctx ends.
	Run(ctx context.Context, notify func(ctx context.Context, name, version, hash string))
}

// pollFeed asks GPMD for every module's versions (LIST) every interval.
type pollFeed struct {
	n     *node
	every time.Duration
}

func (p pollFeed) Run(ctx context.Context, notify func(ctx context.Context, name, version, hash string)) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c := p.n.client()
		if c == nil {
			continue
		}
		lctx, cancel := context.WithTimeout(ctx, requestTimeout)
		entries, err := c.List(lctx, "")
		cancel()
		if err != nil {
			continue
		}
		for _, e := range entries {
			if v, ok := latestOf(e); ok {
				notify(ctx, e.Name, v.Version, v.Hash)
			}
		}
	}
}
