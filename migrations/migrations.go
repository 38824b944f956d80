package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ghost-network/gpmd/index"
	bolt "go.etcd.io/bbolt"
)

// Step brings a file from schema Version-1 to schema Version. A step
// changes the tree with Apply; one that needs the module bytes too (it
// records what they hold) has ApplyStore instead, which gets the folder of
// the index file: the repository folder, which holds the blob store.
type Step struct {
	Version    int
	Name       string
	Apply      func(tx *bolt.Tx) error
	ApplyStore func(tx *bolt.Tx, dir string) error
}

// Steps returns the migrations in order, the last one at
// index.SchemaVersion. Each call returns a new slice.
//
// Adding a schema: change index's tree, bump index.SchemaVersion, append a
// step here and its test in migrations_test.go (a test fails while steps
// and tests differ in number).
func Steps() []Step {
	return []Step{
		{Version: 2, Name: "per-name buckets with semver-sortable keys and a refs bucket", Apply: upgradeTo2},
		{Version: 3, Name: "a tombstones bucket: removed versions stay immutable", Apply: upgradeTo3},
		{Version: 4, Name: "an info bucket (never released; emptied by step 5)", Apply: upgradeTo4},
		{Version: 5, Name: "each version's value holds what the parse of its bytes recorded", ApplyStore: upgradeTo5},
	}
}

// Upgrade brings the bbolt file at path to index.SchemaVersion in one
// transaction. A missing or empty file is left for index.Open to create.
// It reports the version it found (0 for a missing, empty or fresh file).
// A newer schema fails with an error wrapping index.ErrSchemaTooNew; a
// file held by another process, after the default lock timeout, with a
// *index.LockedError (index.ErrLocked). On any error the file is left as
// it was.
func Upgrade(path string) (from int, err error) {
	return UpgradeWith(path, index.Options{})
}

// UpgradeWith is Upgrade with the lock timeout and NoSync of opts
// (ReadOnly is ignored: an upgrade writes).
func UpgradeWith(path string, opts index.Options) (from int, err error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("index %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return 0, nil
	}
	opts.ReadOnly = false
	bdb, err := index.OpenBolt(path, opts)
	if err != nil {
		return 0, err
	}
	defer bdb.Close()

	// Read first: the common case has nothing to do and writes nothing.
	fresh := false
	err = bdb.View(func(tx *bolt.Tx) error {
		from, fresh, err = index.ReadSchemaTx(tx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("index %s: %w", path, err)
	}
	switch {
	case fresh:
		return 0, nil
	case from > index.SchemaVersion:
		return from, fmt.Errorf("index %s has schema %d, newer than schema %d that this gpmd knows: %w; use a newer gpmd",
			path, from, index.SchemaVersion, index.ErrSchemaTooNew)
	case from == index.SchemaVersion:
		return from, nil
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		// This process holds the lock, so nothing changed since the read.
		return apply(tx, filepath.Dir(path), from, Steps())
	})
	if err != nil {
		return from, fmt.Errorf("index %s: upgrading schema %d to %d: %w", path, from, index.SchemaVersion, err)
	}
	return from, nil
}

// apply runs every step above from, in order, in tx, then records the
// version reached. The caller's transaction makes it all or nothing.
func apply(tx *bolt.Tx, dir string, from int, steps []Step) error {
	if len(steps) == 0 || steps[len(steps)-1].Version != index.SchemaVersion {
		return fmt.Errorf("migrations end below schema %d: a step is missing", index.SchemaVersion)
	}
	at := from
	for _, s := range steps {
		if s.Version <= from {
			continue
		}
		if s.Version != at+1 {
			return fmt.Errorf("no migration from schema %d to %d", at, at+1)
		}
		run := s.Apply
		if s.ApplyStore != nil {
			run = func(tx *bolt.Tx) error { return s.ApplyStore(tx, dir) }
		}
		if err := run(tx); err != nil {
			return fmt.Errorf("migration %d (%s): %w", s.Version, s.Name, err)
		}
		at = s.Version
	}
	return index.WriteSchemaTx(tx, at)
}
