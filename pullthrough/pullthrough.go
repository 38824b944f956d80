// Package pullthrough is the one place where a registry namespace stands in
// front of the module repository: the daemon hands a *Layer to both the GMP
// server (MODULE_REQUEST) and the control API (`gpmd wasm get`, resolve), so
// that "get NAME by query" means the same thing on both surfaces.
//
// # Guarantees
//
//   - Without an upstream the Layer is the repository, unchanged.
//   - With one (`gpmd start --registry REGISTRY/NAMESPACE`), Get and Resolve
//     pick the version among the union of the local versions and the semver
//     tags of REGISTRY/NAMESPACE/NAME (oci.Upstream.Resolve: tag lists cached
//     for at most the tag cache TTL). A version held locally is served
//     locally; a registry tag of the same version with other bytes is never
//     served (logged as a conflict by oci.Upstream).
//   - A version only the registry has is pulled (oci.Upstream.Fetch, one
//     pull however many callers ask at once) into the repository exactly as
//     an upload would store it (repo.Upload with the layer's digest, so bytes
//     that do not match never become visible), then served from the
//     repository. A GVM sees no difference but the time of the first fetch.
//   - An unreachable registry means local versions only: the request is
//     answered from the repository and the failure is logged (and kept for
//     `gpmd status` by oci.Upstream.Status).
//
// # Caveats
//
//   - A pull runs apart from the request that started it (so that the first
//     caller giving up does not fail the others), bounded by
//     oci.DefaultUpstreamPullTimeout; Close ends it and waits for it, so the
//     daemon closes the repository only after.
package pullthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/repo"
)

// Layer is the repository with an optional registry upstream in front of
// its resolving reads, and the daemon's registry client for push, pull and
// tag lists. Every method it does not define is the repository's (Upload,
// List, Remove, Stats, MaxModuleSize). It is safe for concurrent use.
type Layer struct {
	*repo.Repo
	client *oci.Client
	// plain is client with PlainHTTP, for a push or pull that asks for it
	// (--plain-http) to a registry that is not loopback.
	plain *oci.Client
	// up is nil when the daemon has no --registry.
	up  *oci.Upstream
	log *slog.Logger
	// pulls makes "is it local yet? else pull it" one step per
	// name@version: a caller that resolved before another caller's pull
	// stored the version finds it stored instead of pulling it again.
	pulls singleflight.Group

	mu      sync.Mutex // guards closed and the Add of flights
	closed  bool
	flights sync.WaitGroup // pull-throughs in flight; Close waits for them
}

// Options configures a Layer.
type Options struct {
	// Upstream is REGISTRY/NAMESPACE, or "" for none.
	Upstream string
	// Client configures the registry client (credentials, timeouts, the
	// tag cache TTL). Its PlainHTTP applies to the upstream as well.
	Client oci.Options
	Logger *slog.Logger
}

// New returns the layer over store. It fails when the credentials config
// cannot be read or the upstream is not REGISTRY/NAMESPACE (ErrInvalid).
func New(store *repo.Repo, opts Options) (*Layer, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client, err := oci.NewClient(opts.Client)
	if err != nil {
		return nil, err
	}
	plainOpts := opts.Client
	plainOpts.PlainHTTP = true
	plain, err := oci.NewClient(plainOpts)
	if err != nil {
		return nil, err
	}
	l := &Layer{Repo: store, client: client, plain: plain, log: log}
	if opts.Upstream != "" {
		if l.up, err = oci.NewUpstream(client, opts.Upstream, log); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Close ends the pull-throughs in flight and waits for them, so that
// nothing writes to the repository once it returns, then releases the
// registry clients' idle connections. The repository is the caller's to
// close, after this. Close is idempotent.
func (l *Layer) Close() error {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		return nil
	}
	if l.up != nil {
		l.up.Close()
	}
	l.flights.Wait()
	return errors.Join(l.client.Close(), l.plain.Close())
}

// startFlight counts a pull-through in flight; false once closed.
func (l *Layer) startFlight() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.flights.Add(1)
	return true
}

// Upstream returns the registry upstream, nil when there is none.
func (l *Layer) Upstream() *oci.Upstream { return l.up }

// sink returns an oci.Sink that stores a pulled module as an upload would:
// repo.Upload with the layer's digest as the expected digest, so that the
// bytes are checked twice (by oci's verifying reader and by the store).
// progress may be nil; stored, when not nil, receives the stored record.
func (l *Layer) sink(progress Progress, stored *index.Record) oci.Sink {
	return func(ctx context.Context, mod oci.Module, r io.Reader) error {
		rec, err := l.Repo.Upload(ctx, mod.Ref, counting(r, mod.Size, progress), mod.Digest)
		if err == nil && stored != nil {
			*stored = rec
		}
		return err
	}
}

// Resolve is repo.Resolve over the union of local and registry versions; a
// version only the registry holds is pulled first, so that the record it
// returns names a stored module.
func (l *Layer) Resolve(ctx context.Context, name, query string) (index.Record, error) {
	version, err := l.prepare(ctx, name, query)
	if err != nil {
		return index.Record{}, err
	}
	return l.Repo.Resolve(ctx, name, version)
}

// Get is repo.Get over the union of local and registry versions (see
// Resolve). The caller closes the reader.
func (l *Layer) Get(ctx context.Context, name, query string) (index.Record, io.ReadCloser, error) {
	version, err := l.prepare(ctx, name, query)
	if err != nil {
		return index.Record{}, nil, err
	}
	return l.Repo.Get(ctx, name, version)
}

// prepare decides which version answers name@query and makes sure the
// repository holds it. It returns the query to ask the repository: the
// exact version chosen, or query itself when there is no upstream or the
// registry could not be asked (the repository then answers alone).
func (l *Layer) prepare(ctx context.Context, name, query string) (string, error) {
	if l.up == nil {
		return query, nil
	}
	local, err := l.localVersions(ctx, name)
	if err != nil {
		return "", err
	}
	res, err := l.up.Resolve(ctx, name, query, local)
	if err != nil {
		// ErrNotFound (naming the registry error, if any) or ErrInvalid.
		return "", err
	}
	// res.RegistryErr (the registry could not be asked) is logged by the
	// upstream once per failed tag listing, not here once per request.
	if res.Local {
		return res.Version, nil
	}
	if err := l.fetch(ctx, res); err != nil {
		// The registry has a better version but cannot hand it over now:
		// serve what the repository has, as for an unreachable registry.
		l.log.Warn("registry upstream: pull failed; serving local versions only", "module", name, "version", res.Version, "reference", res.Reference, "err", err)
		if _, lerr := l.Repo.Resolve(ctx, name, query); lerr == nil {
			return query, nil
		}
		return "", fmt.Errorf("module %s@%s: pulling %s: %w", name, res.Version, res.Reference, err)
	}
	return res.Version, nil
}

// fetch stores the version res chose unless the repository holds it by
// now; one check-and-pull runs per name@version however many callers ask.
func (l *Layer) fetch(ctx context.Context, res oci.Resolution) error {
	ch := l.pulls.DoChan(res.Name+"@"+res.Version, func() (any, error) {
		if !l.startFlight() {
			return nil, fmt.Errorf("module %s@%s: %w: gpmd is stopping", res.Name, res.Version, errdefs.ErrUnavailable)
		}
		defer l.flights.Done()
		// Shared by every caller: the first one giving up must not fail
		// the others (Fetch bounds the pull with its own timeout, and
		// Close ends it).
		fctx := context.WithoutCancel(ctx)
		if _, err := l.Repo.Resolve(fctx, res.Name, res.Version); err == nil {
			return nil, nil // stored by a pull that ended after res was made
		}
		pr, err := l.up.Fetch(fctx, res, l.sink(nil, nil))
		if err != nil {
			return nil, err
		}
		l.log.Info("pulled through from the registry", "module", res.Name, "version", res.Version, "reference", res.Reference,
			"manifest", pr.Manifest, "digest", pr.Digest, "size", pr.Size)
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("module %s@%s: %w: %w", res.Name, res.Version, errdefs.ErrUnavailable, ctx.Err())
	}
}

// localVersions lists name's versions as oci.Upstream.Resolve takes them.
// A name the repository does not know has none (not an error: the registry
// may have it).
func (l *Layer) localVersions(ctx context.Context, name string) ([]oci.LocalVersion, error) {
	mods, err := l.Repo.List(ctx, name)
	if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		return nil, err
	}
	var out []oci.LocalVersion
	for _, m := range mods {
		if m.Name != name {
			continue
		}
		for _, v := range m.Versions {
			out = append(out, oci.LocalVersion{Version: v.Version, Digest: v.Digest})
		}
	}
	return out, nil
}
