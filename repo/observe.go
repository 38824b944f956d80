package repo

import (
	"errors"
	"sync"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// Observer learns of every change to the versions a Repo holds, in the
// order they happen (the daemon publishes them as GMP events and logs
// them). Its methods are called after the change is in the index, one
// change at a time, and must not block: a slow observer slows uploads.
type Observer interface {
	// VersionAdded: an upload (or an import, which uploads) stored a new
	// version. A duplicate upload of the same bytes is no change.
	VersionAdded(rec index.Record)
	// VersionRemoved: a version was removed.
	VersionRemoved(rec index.Record)
	// LatestChanged: what a request for name with no version (latest)
	// resolves to changed, after VersionAdded or VersionRemoved; ok is
	// false when name has no version left.
	LatestChanged(name string, rec index.Record, ok bool)
}

// notifier runs changes so that the latest of a name is compared before
// and after each one, with no other change in between: mu serialises the
// changes that have an observer to tell. It is the one place where
// "latest changed" is decided.
type notifier struct {
	obs Observer // nil: changes run unserialised and nobody is told
	mu  sync.Mutex
}

// change runs apply (an index write of one version of name) and tells the
// observer what it changed. apply returns the record and whether it
// changed anything.
func (r *Repo) change(name string, added bool, apply func() (index.Record, bool, error)) (index.Record, error) {
	n := &r.notify
	if n.obs == nil {
		rec, _, err := apply()
		return rec, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	before, hadBefore := r.latestOf(name)
	rec, changed, err := apply()
	if err != nil || !changed {
		return rec, err
	}
	if added {
		n.obs.VersionAdded(rec)
	} else {
		n.obs.VersionRemoved(rec)
	}
	after, hasAfter := r.latestOf(name)
	if hadBefore != hasAfter || before.Version != after.Version || before.Digest != after.Digest {
		n.obs.LatestChanged(name, after, hasAfter)
	}
	return rec, nil
}

// latestOf is what a blank request for name resolves to, if anything.
func (r *Repo) latestOf(name string) (index.Record, bool) {
	rec, err := r.idx.Resolve(name, "")
	if err != nil {
		if !errors.Is(err, errdefs.ErrNotFound) {
			r.log.Warn("resolving the latest version for the observer", "name", name, "err", err)
		}
		return index.Record{}, false
	}
	return rec, true
}
