package repo

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/modulesjson"
)

// MirrorFile is the name of the JSON mirror of the index, beside it.
//
// DefaultMirrorDelay is how long index changes are gathered before the
// mirror is rewritten once for all of them.
const DefaultMirrorDelay = 250 * time.Millisecond

// mirror keeps ghost.modules.json in step with the index, off the upload
// path: a change marks it dirty, and one goroutine rewrites the whole file
// at most once per delay (and never more often than twice the time the last
// rewrite took, so that a very large index does not spend its time on it).
// The file is replaced by rename, so readers see the old or the new one.
type mirror struct {
	path  string
	idx   *index.DB
	delay time.Duration
	log   *slog.Logger

	// changed counts index changes; written is the value of changed that
	// the file on disk reflects. Both only grow.
	changed atomic.Uint64
	written atomic.Uint64

	// writeMu serialises rewrites (the background one and FlushMirror).
	writeMu sync.Mutex

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

func newMirror(dir string, idx *index.DB, delay time.Duration, log *slog.Logger) *mirror {
	if delay <= 0 {
		delay = DefaultMirrorDelay
	}
	return &mirror{
		path:  filepath.Join(dir, modulesjson.FileName),
		idx:   idx,
		delay: delay,
		log:   log,
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// markDirty records an index change and wakes the writer. It never blocks.
func (m *mirror) markDirty() {
	m.changed.Add(1)
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// run is the background writer; it returns when close is called.
func (m *mirror) run() {
	defer close(m.done)
	wait := m.delay
	// After a failed write (a full disk, say) the writer tries again by
	// itself, backing off, so that the mirror catches up once the cause is
	// gone even if no further change comes.
	var retry <-chan time.Time
	backoff := mirrorRetryMin
	for {
		select {
		case <-m.stop:
			return
		case <-m.kick:
		case <-retry:
		}
		// Gather more changes before writing.
		select {
		case <-m.stop:
			return
		case <-time.After(wait):
		}
		start := time.Now()
		if err := m.flush(); err != nil {
			m.log.Error("mirror write failed; retrying", "path", m.path, "in", backoff, "err", err)
			retry = time.After(backoff)
			backoff = min(2*backoff, mirrorRetryMax)
		} else {
			retry, backoff = nil, mirrorRetryMin
		}
		wait = max(m.delay, 2*time.Since(start))
	}
}

// The bounds of the mirror writer's back-off after a failed write.
const (
	mirrorRetryMin = 200 * time.Millisecond
	mirrorRetryMax = 30 * time.Second
)

// close stops the writer and writes the last changes.
func (m *mirror) close() error {
	close(m.stop)
	<-m.done
	return m.flush()
}

// flush rewrites the file if it is behind the index.
func (m *mirror) flush() error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	target := m.changed.Load()
	if target == m.written.Load() {
		return nil
	}
	data, err := renderMirror(m.idx)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomicBytes(m.path, data, fsutil.FileMode); err != nil {
		return err
	}
	m.written.Store(target)
	return nil
}

// sync makes the file equal to the index now, comparing first so that an
// up-to-date mirror costs no write. Used at open: the index is the truth.
func (m *mirror) sync() (rewritten bool, err error) {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	want, err := renderMirror(m.idx)
	if err != nil {
		return false, err
	}
	have, err := os.ReadFile(m.path)
	if err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("reading mirror: %w", err)
	}
	if err := fsutil.WriteFileAtomicBytes(m.path, want, fsutil.FileMode); err != nil {
		return false, err
	}
	return true, nil
}

// renderMirror renders the whole index, versions and tombstones, as
// ghost.modules.json, from one read transaction (see modulesjson.Encode
// for the order).
func renderMirror(idx *index.DB) ([]byte, error) {
	var recs []index.Record
	tombs, err := idx.WalkAll(func(rec index.Record) error {
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return modulesjson.EncodeRecords(recs, tombs)
}
