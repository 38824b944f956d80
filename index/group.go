package index

import (
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Each bbolt commit ends in fsyncs (the pages, then the
// meta page), and bbolt runs one writer at a time, so N uploads that
// finish together used to pay N commits in a row: the last one waited
// for all of them. Add instead queues its record; the first caller to
// find no commit in flight leads: it takes every record queued so far,
// puts them all in one transaction, commits (one set of fsyncs for all),
// hands each caller its result, and passes the lead to the first caller
// that queued meanwhile. Nothing waits for a timer: a lone Add commits at
// once, as before, and a batch forms only from callers that would
// otherwise have queued on bbolt's writer lock.
//
// Durability is unchanged: each caller returns only after the commit that
// holds its record, fsyncs included, has returned. Refusals stay per
// record: when any record of a batch is refused (a conflict, a bad
// record), the batch's transaction is rolled back and each record of it
// is committed alone, as bbolt's own DB.Batch does. bbolt's Batch is not
// used because it waits up to MaxBatchDelay (10ms) for company even when
// none comes, which would add that to every single upload.

// maxGroup bounds one transaction: a larger queue is committed in
// several, so that one commit's dirty pages stay small.
const maxGroup = 256

// addCall is one Add waiting in the group.
type addCall struct {
	entry   Entry
	stored  Record
	created bool
	err     error
	// wake receives true when this call is to lead the next commit,
	// false when its result is set.
	wake chan bool
}

// group gathers concurrent Adds into shared commits.
type group struct {
	// mu guards queue and busy.
	mu    sync.Mutex
	queue []*addCall
	busy  bool // a leader is committing
	// commits counts the transactions committed for Adds (tests check
	// that concurrent Adds share them).
	commits atomic.Uint64
}

// add runs c through a shared commit of db and returns once c's result
// is durable (or refused).
func (g *group) add(db *bolt.DB, c *addCall) {
	c.wake = make(chan bool, 1)
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.busy {
		g.mu.Unlock()
		if lead := <-c.wake; !lead {
			return
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	// c leads: commit what is queued (c among it), then pass the lead.
	g.mu.Lock()
	batch := g.queue
	if len(batch) > maxGroup {
		batch = batch[:maxGroup:maxGroup]
	}
	g.queue = g.queue[len(batch):]
	g.mu.Unlock()

	g.commitGroup(db, batch)

	g.mu.Lock()
	var next *addCall
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, o := range batch {
		if o != c {
			o.wake <- false
		}
	}
	if next != nil {
		next.wake <- true
	}
}

// commitGroup puts every record of batch in one transaction. When one is
// refused, the transaction is rolled back, that record is set aside to be
// committed alone (where its refusal is its own answer), and the rest go
// again together: one refusal costs no other record its place.
func (g *group) commitGroup(db *bolt.DB, batch []*addCall) {
	var alone []*addCall
	for len(batch) > 1 {
		failed := -1
		err := db.Update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				var err error
				if c.stored, c.created, err = PutTx(tx, c.entry); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if err == nil {
			g.commits.Add(1)
			batch = nil
			break
		}
		if failed < 0 {
			// The commit itself failed (a write error): each record
			// gets its own attempt and its own error.
			break
		}
		alone = append(alone, batch[failed])
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
	for _, c := range append(alone, batch...) {
		c.err = db.Update(func(tx *bolt.Tx) error {
			var err error
			c.stored, c.created, err = PutTx(tx, c.entry)
			return err
		})
		g.commits.Add(1)
	}
}

// AddCommits is how many transactions Adds have committed since Open:
// fewer than the Adds when concurrent ones shared commits. A figure for
// tests and benchmarks.
func (db *DB) AddCommits() uint64 { return db.group.commits.Load() }
