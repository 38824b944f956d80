package repo

import (
	"errors"
	"sync"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// Observer learns of every change to the versions a Repo holds (the
// daemon publishes them as GMP events and logs them). Its methods are
// called after the change is in the index, one call at a time, and must
// not block: a slow observer slows uploads.
//
// Order: a removal is told after every change that came before it and
// before every change after it. Uploads that run at the same time (they
// share one index commit, see index's group commit) are told in the order
// they finish; their order says nothing more, as their versions are
// distinct and each commit holds all or none of them. LatestChanged always
// follows the VersionAdded or VersionRemoved that made it.
type Observer interface {
	// VersionAdded: an upload (or an import, which uploads) stored a new
	// version. A duplicate upload of the same bytes is no change.
	VersionAdded(rec index.Record)
	// VersionRemoved: a version was removed.
	VersionRemoved(rec index.Record)
	// LatestChanged: what a request for name with no version (latest)
	// resolves to changed, after VersionAdded or VersionRemoved; ok is
	// false when name has no version left. After VersionAdded(rec) it
	// names rec.
	LatestChanged(name string, rec index.Record, ok bool)
}

// notifier tells the observer of changes, and is the one place where
// "latest changed" is decided.
//
// Uploads no longer run one at a time for it: holding one lock across
// every index write made concurrent uploads commit one after another
// when they could share a commit. Instead order lets adds run together
// (shared) and a removal alone, and latest remembers, per name, the
// latest version last told: an add can only raise a name's latest, so
// whether it did is decided from the record added and what was told, not
// from the index, which may already hold versions whose adds are not told
// yet. A removal, which runs alone, reads the index before and after.
type notifier struct {
	obs Observer // nil: changes run unserialised and nobody is told

	// order is held shared by an add from before its index write until it
	// is told, and alone by a removal.
	order sync.RWMutex
	// mu serialises the observer's calls and guards latest.
	mu sync.Mutex
	// latest is what latest was last told to be (or found, when nothing
	// was told yet), for each name an add or a removal has touched since
	// Open; a name left with no version is dropped.
	latest map[string]seenLatest
}

// seenLatest is a name's latest version as told; ok false: none.
type seenLatest struct {
	rec index.Record
	ok  bool
}

// change runs apply (an index write of one version of name: an add when
// added, else a removal) and tells the observer what it changed. apply
// returns the record and whether it changed anything.
func (r *Repo) change(name index.Name, added bool, apply func() (index.Record, bool, error)) (index.Record, error) {
	n := &r.notify
	if n.obs == nil {
		rec, _, err := apply()
		return rec, err
	}
	if added {
		n.order.RLock()
		defer n.order.RUnlock()
	} else {
		n.order.Lock()
		defer n.order.Unlock()
	}
	key := name.String()
	n.mu.Lock()
	before, known := n.latest[key]
	if !known {
		// Every add of name records it here before it writes, and no
		// removal runs beside an add: nothing of name is in flight, so
		// the index's latest is the one told.
		before.rec, before.ok = r.latestOf(name)
		if n.latest == nil {
			n.latest = make(map[string]seenLatest)
		}
		n.latest[key] = before
	}
	n.mu.Unlock()

	rec, changed, err := apply()
	if err != nil || !changed {
		return rec, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if added {
		n.obs.VersionAdded(rec)
		if cur := n.latest[key]; !cur.ok || laterLatest(rec, cur.rec) {
			n.latest[key] = seenLatest{rec: rec, ok: true}
			n.obs.LatestChanged(key, rec, true)
		}
		return rec, nil
	}
	n.obs.VersionRemoved(rec)
	after, hasAfter := r.latestOf(name)
	if before.ok != hasAfter || before.rec.Version != after.Version || before.rec.Digest != after.Digest {
		n.obs.LatestChanged(key, after, hasAfter)
	}
	if hasAfter {
		n.latest[key] = seenLatest{rec: after, ok: true}
	} else {
		delete(n.latest, key)
	}
	return rec, nil
}

// latestOf is what a blank request for name resolves to, if anything.
func (r *Repo) latestOf(name index.Name) (index.Record, bool) {
	q, err := name.Query("")
	if err != nil {
		return index.Record{}, false // "" always parses
	}
	rec, err := r.idx.Resolve(q)
	if err != nil {
		if !errors.Is(err, errdefs.ErrNotFound) {
			r.log.Warn("resolving the latest version for the observer", "name", name, "err", err)
		}
		return index.Record{}, false
	}
	return rec, true
}

// laterLatest reports whether a stored record's version would be its
// name's latest rather than b's (index.Version.LaterLatest). Both are
// stored versions, so they parse; one that did not would never win.
func laterLatest(a, b index.Record) bool {
	va, errA := index.ParseVersion(a.Version)
	vb, errB := index.ParseVersion(b.Version)
	if errA != nil || errB != nil {
		return errB != nil && errA == nil
	}
	return va.LaterLatest(vb)
}
