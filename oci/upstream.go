package oci

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

const (
	// upstreamErrorTTL is how long a failed tag listing is remembered, so
	// that a stalled registry costs one timeout per name every few seconds
	// instead of one per request.
	upstreamErrorTTL = 5 * time.Second
	// DefaultUpstreamPullTimeout bounds a pull-through pull. It runs apart
	// from the requests that wait for it (one may give up, the others still
	// want the module), so it needs a bound of its own.
	DefaultUpstreamPullTimeout = 10 * time.Minute
)

// LocalVersion is a version the local store holds, as the caller passes it
// to Resolve.
type LocalVersion struct {
	Version string
	Digest  digest.Digest
}

// Resolution is what Resolve decided.
type Resolution struct {
	Name string
	// Version is the chosen version as it is written: the local spelling
	// when Local, else the registry tag.
	Version string
	// Local: serve the local version (Digest is its digest). Otherwise pull
	// Reference (REGISTRY/NAMESPACE/NAME:TAG) with Fetch first.
	Local     bool
	Digest    digest.Digest
	Reference string
	// Conflicts lists registry tags that carry other bytes than the local
	// version of the same number; the local version is served.
	Conflicts []Conflict
	// RegistryErr is set when the registry could not be asked: the
	// resolution used local versions only.
	RegistryErr error
}

// Conflict is a registry tag whose layer differs from the local version of
// the same number. Versions are immutable: the local one wins.
type Conflict struct {
	Version   string
	Reference string
	Local     digest.Digest
	Remote    digest.Digest
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s carries %s but the local version %s is %s; serving the local one", c.Reference, c.Remote, c.Version, c.Local)
}

// UpstreamStatus is what `gpmd status` shows of the upstream.
type UpstreamStatus struct {
	Registry    string
	LastError   string
	LastErrorAt time.Time
	LastSuccess time.Time
}

// Upstream is a registry namespace (REGISTRY/NAMESPACE) used as a source of
// versions: NAME's versions are the semver tags of REGISTRY/NAMESPACE/NAME.
// It is safe for concurrent use.
type Upstream struct {
	client      *Client
	base        string
	log         *slog.Logger
	pullTimeout time.Duration
	// life is what tag listings and pulls run under instead of their
	// callers' contexts (they are shared by every caller); Close ends it.
	life   context.Context
	stop   context.CancelFunc
	flight singleflight.Group // keys "tags NAME" and "pull NAME@VERSION"

	mu        sync.Mutex // guards tags, conflicts and the status fields
	tags      map[string]tagEntry
	conflicts map[string]conflictEntry // key NAME@TAG
	lastErr   error
	lastErrAt time.Time
	lastOK    time.Time
}

type tagEntry struct {
	tags []Tag
	err  error
	at   time.Time
}

type conflictEntry struct {
	layer digest.Digest
	at    time.Time
}

// NewUpstream returns an Upstream for base (REGISTRY/NAMESPACE, or a bare
// REGISTRY). log may be nil.
func NewUpstream(c *Client, base string, log *slog.Logger) (*Upstream, error) {
	base = strings.TrimSuffix(base, "/")
	if _, err := parseRef(base + "/probe"); err != nil || strings.ContainsAny(base, "@") {
		return nil, fmt.Errorf("upstream %q: %w: want REGISTRY/NAMESPACE", base, errdefs.ErrInvalid)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, stop := context.WithCancel(context.Background())
	return &Upstream{
		client:      c,
		base:        base,
		log:         log,
		pullTimeout: DefaultUpstreamPullTimeout,
		life:        life,
		stop:        stop,
		tags:        make(map[string]tagEntry),
		conflicts:   make(map[string]conflictEntry),
	}, nil
}

// Close ends the tag listings and pulls in flight (their callers get an
// error wrapping ErrUnavailable); the Upstream is not used after. It is
// idempotent.
func (u *Upstream) Close() { u.stop() }

// Repository returns REGISTRY/NAMESPACE/NAME.
func (u *Upstream) Repository(name string) string { return u.base + "/" + name }

// Status returns the registry, its last error and last success.
func (u *Upstream) Status() UpstreamStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := UpstreamStatus{Registry: u.base, LastErrorAt: u.lastErrAt, LastSuccess: u.lastOK}
	if u.lastErr != nil {
		s.LastError = u.lastErr.Error()
	}
	return s
}

func (u *Upstream) record(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if err != nil {
		u.lastErr, u.lastErrAt = err, time.Now()
	} else {
		u.lastOK = time.Now()
	}
}

// Resolve picks the version of name that query asks for (GMP.md's rules:
// "" or "latest" is the highest release, or the highest pre-release where
// there is no release; an exact version matches by semver equality; a
// Masterminds constraint takes the highest version satisfying it) among
// local and the registry's semver tags. A version held locally is served
// locally whatever the registry says; when the registry's tag of that
// version carries other bytes, Resolution.Conflicts says so (and it is
// logged). When the registry cannot be asked, Resolution.RegistryErr is
// set and only local versions count. A bad name or query wraps ErrInvalid;
// nothing matching wraps ErrNotFound (and names the registry error, if
// any).
func (u *Upstream) Resolve(ctx context.Context, name, query string, local []LocalVersion) (Resolution, error) {
	if _, err := index.ParseName(name); err != nil {
		return Resolution{}, fmt.Errorf("%w: %v", errdefs.ErrInvalid, err)
	}
	q, err := index.ParseQuery(name, query)
	if err != nil {
		return Resolution{}, err
	}
	match := q.Matches
	type candidate struct {
		v     *semver.Version
		local *LocalVersion
		tag   string
	}
	var cands []candidate
	for i := range local {
		v, err := semver.NewVersion(local[i].Version)
		if err != nil {
			continue // the store validated its versions; skip what it did not
		}
		cands = append(cands, candidate{v: v, local: &local[i]})
	}
	tags, regErr := u.tagList(ctx, name)
	remoteTag := make(map[int]string) // index into cands of a local version -> its tag
	for _, t := range tags {
		dup := false
		for i, c := range cands {
			if c.v.Equal(t.Version) {
				if c.local != nil {
					if _, seen := remoteTag[i]; !seen {
						remoteTag[i] = t.Name
					}
				}
				dup = true
				break
			}
		}
		if !dup {
			cands = append(cands, candidate{v: t.Version, tag: t.Name})
		}
	}
	best := -1
	for i, c := range cands {
		if match(c.v) && (best < 0 || better(c.v, cands[best].v, q)) {
			best = i
		}
	}
	res := Resolution{Name: name, RegistryErr: regErr}
	if best < 0 {
		q := query
		if q == "" {
			q = "latest"
		}
		if regErr != nil {
			return res, fmt.Errorf("module %s@%s: %w (local versions only: %v)", name, q, errdefs.ErrNotFound, regErr)
		}
		return res, fmt.Errorf("module %s@%s: %w, locally or in %s", name, q, errdefs.ErrNotFound, u.Repository(name))
	}
	c := cands[best]
	if c.local != nil {
		res.Local, res.Version, res.Digest = true, c.local.Version, c.local.Digest
		if tag, ok := remoteTag[best]; ok {
			if conflict, ok := u.checkConflict(ctx, name, tag, *c.local); ok {
				res.Conflicts = append(res.Conflicts, conflict)
			}
		}
		return res, nil
	}
	res.Version, res.Reference = c.tag, u.Repository(name)+":"+c.tag
	return res, nil
}

// better reports whether a ranks above b for q. For latest a release
// beats any pre-release; otherwise (and between two of a kind) the higher
// version wins.
func better(a, b *semver.Version, q index.Query) bool {
	if q.IsLatest() {
		if ar, br := a.Prerelease() == "", b.Prerelease() == ""; ar != br {
			return ar
		}
	}
	return a.GreaterThan(b)
}

// tagList returns name's semver tags, from the cache when younger than the
// TTL (a failure is remembered for upstreamErrorTTL). Concurrent misses
// share one request. A repository the registry does not know has no tags
// and is not an error.
func (u *Upstream) tagList(ctx context.Context, name string) ([]Tag, error) {
	now := time.Now()
	u.mu.Lock()
	e, ok := u.tags[name]
	u.mu.Unlock()
	if ok && ((e.err == nil && now.Sub(e.at) < u.client.opts.TagCacheTTL) || (e.err != nil && now.Sub(e.at) < upstreamErrorTTL)) {
		return e.tags, e.err
	}
	ch := u.flight.DoChan("tags "+name, func() (any, error) {
		// Shared by every caller that missed the cache: detached from the
		// first caller's cancellation, bounded by the client's timeouts
		// and by Close.
		tctx, cancel := context.WithTimeout(u.life, u.client.opts.DialTimeout+u.client.opts.ResponseHeaderTimeout)
		defer cancel()
		tags, err := u.client.Tags(tctx, u.Repository(name))
		if errors.Is(err, errdefs.ErrNotFound) {
			tags, err = nil, nil
		}
		u.record(err)
		if err != nil {
			u.log.Warn("registry upstream: listing tags failed; serving local versions only", "repository", u.Repository(name), "err", err)
		}
		u.mu.Lock()
		u.pruneLocked(time.Now())
		u.tags[name] = tagEntry{tags: tags, err: err, at: time.Now()}
		u.mu.Unlock()
		return tags, err
	})
	select {
	case r := <-ch:
		tags, _ := r.Val.([]Tag)
		return tags, r.Err
	case <-ctx.Done():
		return nil, fmt.Errorf("tags %s: %w: %w", u.Repository(name), errdefs.ErrUnavailable, ctx.Err())
	}
}

// maxCacheEntries is where the caches start dropping expired entries: a
// GVM may ask for any number of names that the registry does not have.
const maxCacheEntries = 1024

// pruneLocked drops expired cache entries once a cache is large. u.mu held.
func (u *Upstream) pruneLocked(now time.Time) {
	ttl := u.client.opts.TagCacheTTL
	if len(u.tags) >= maxCacheEntries {
		for k, e := range u.tags {
			if now.Sub(e.at) >= max(ttl, upstreamErrorTTL) {
				delete(u.tags, k)
			}
		}
	}
	if len(u.conflicts) >= maxCacheEntries {
		for k, e := range u.conflicts {
			if now.Sub(e.at) >= ttl {
				delete(u.conflicts, k)
			}
		}
	}
}

// checkConflict compares the layer digest behind NAME:TAG with the local
// version's digest; the answer is cached for the TTL. A registry that
// cannot answer is no conflict (the local version is served anyway).
func (u *Upstream) checkConflict(ctx context.Context, name, tag string, lv LocalVersion) (Conflict, bool) {
	key := name + "@" + tag
	u.mu.Lock()
	e, ok := u.conflicts[key]
	u.mu.Unlock()
	if !ok || time.Since(e.at) >= u.client.opts.TagCacheTTL {
		art, err := u.client.Inspect(ctx, u.Repository(name)+":"+tag)
		if err != nil {
			u.record(err)
			return Conflict{}, false
		}
		e = conflictEntry{layer: art.Layer.Digest, at: time.Now()}
		u.mu.Lock()
		u.pruneLocked(e.at)
		u.conflicts[key] = e
		u.mu.Unlock()
	}
	if e.layer == lv.Digest {
		return Conflict{}, false
	}
	c := Conflict{Version: lv.Version, Reference: u.Repository(name) + ":" + tag, Local: lv.Digest, Remote: e.layer}
	u.log.Warn("registry upstream: version conflict", "conflict", c.String())
	return c, true
}

// Fetch pulls the version res chose (res.Local false) into sink. However
// many callers fetch the same name@version at once, one pull runs; each
// caller waits for it on its own ctx. The pull itself runs apart from the
// callers' contexts, bounded by DefaultUpstreamPullTimeout and by Close, so
// that the first caller giving up does not fail the others.
func (u *Upstream) Fetch(ctx context.Context, res Resolution, sink Sink) (PullResult, error) {
	if res.Local || res.Reference == "" {
		return PullResult{}, fmt.Errorf("fetch %s@%s: %w: the resolution says to serve the local version", res.Name, res.Version, errdefs.ErrInvalid)
	}
	ch := u.flight.DoChan("pull "+res.Name+"@"+res.Version, func() (any, error) {
		pctx, cancel := context.WithTimeout(u.life, u.pullTimeout)
		defer cancel()
		pr, err := u.client.Pull(pctx, res.Reference, PullOptions{Name: res.Name, Version: res.Version}, sink)
		u.record(err)
		if err != nil {
			u.log.Warn("registry upstream: pull failed", "reference", res.Reference, "err", err)
		}
		return pr, err
	})
	select {
	case r := <-ch:
		pr, _ := r.Val.(PullResult)
		return pr, r.Err
	case <-ctx.Done():
		return PullResult{}, fmt.Errorf("fetch %s: %w: %w", res.Reference, errdefs.ErrUnavailable, ctx.Err())
	}
}
