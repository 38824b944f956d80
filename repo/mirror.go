package repo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ghost-network/gpmd/index"
)

// MirrorFile is the name of the JSON mirror of the index, beside it.
const MirrorFile = "ghost.modules.json"

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
		path:  filepath.Join(dir, MirrorFile),
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
	if err := writeFileAtomic(m.path, data); err != nil {
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
	if err := writeFileAtomic(m.path, want); err != nil {
		return false, err
	}
	return true, nil
}

// mirrorVersion is one version in ghost.modules.json: the early gpmd's
// fields (version, file, hash in hex) plus digest, size and created.
type mirrorVersion struct {
	Version string    `json:"version"`
	File    string    `json:"file"`
	Hash    string    `json:"hash"`
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// renderMirror writes the whole index as the mirror's JSON, from one read
// transaction, in a deterministic order (names sorted, versions highest
// first) so that equal indexes give equal bytes.
func renderMirror(idx *index.DB) ([]byte, error) {
	return renderRecords(idx.Walk)
}

// renderRecords renders the records that walk yields, in walk's order:
// names together and in order, versions highest first.
func renderRecords(walk func(func(index.Record) error) error) ([]byte, error) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	w.WriteString("{")
	current := ""
	first := true
	err := walk(func(rec index.Record) error {
		if rec.Name != current {
			if current != "" {
				w.WriteString("}},")
			}
			current = rec.Name
			name, _ := json.Marshal(rec.Name)
			fmt.Fprintf(w, "\n  %s: {\"name\": %s, \"versions\": {", name, name)
			first = true
		}
		if !first {
			w.WriteString(",")
		}
		first = false
		v := mirrorVersion{
			Version: rec.Version,
			File:    blobRelPath(rec),
			Hash:    rec.Digest.Encoded(),
			Digest:  rec.Digest.String(),
			Size:    rec.Size,
			Created: rec.Created.UTC(),
		}
		key, _ := json.Marshal(rec.Version)
		val, err := json.Marshal(v)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "\n    %s: %s", key, val)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading index for the mirror: %w", err)
	}
	if current != "" {
		w.WriteString("}}")
	}
	w.WriteString("\n}\n")
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// blobRelPath is where rec's bytes live, relative to the repository folder.
func blobRelPath(rec index.Record) string {
	return "blobs/" + rec.Digest.Algorithm().String() + "/" + rec.Digest.Encoded()
}

// writeFileAtomic replaces path with data (see writeStreamAtomic).
func writeFileAtomic(path string, data []byte) error {
	return writeStreamAtomic(path, bytes.NewReader(data))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
