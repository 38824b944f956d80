package index

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/internal/testutil"
)

func TestMain(m *testing.M) {
	// The second process of TestOpenLockedBySecondProcess: it opens the
	// index, adds a record, and holds the file.
	testutil.HoldLockIfAsked(func(path string) (io.Closer, error) {
		db, err := Open(path, Options{})
		if err != nil {
			return nil, err
		}
		if _, _, err := db.Add(mustEntry(Record{Name: "held", Version: "1.0.0", Digest: dg("held"), Size: 4})); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	})
	code := m.Run()
	closeBenchFixture()
	os.Exit(code)
}

func TestOpenLockedBySecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	release := testutil.StartLockHolder(t, path)

	for _, opts := range []Options{{Timeout: 100 * time.Millisecond}, {Timeout: 100 * time.Millisecond, ReadOnly: true}, {}} {
		start := time.Now()
		db, err := Open(path, opts)
		took := time.Since(start)
		if err == nil {
			db.Close()
			t.Fatalf("Open(%+v) of a store held by another process succeeded", opts)
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Open(%+v) = %v, want ErrLocked", opts, err)
		}
		var le *LockedError
		if !errors.As(err, &le) || le.Path != path {
			t.Fatalf("Open(%+v) = %#v, want a *LockedError for %s", opts, err, path)
		}
		if want := "index " + path + " is in use by another process"; !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not say %q", err, want)
		}
		// Fails fast, not a hang: the timeout plus scheduling slack.
		// (DefaultTimeout is 1s.)
		if took > 10*time.Second {
			t.Fatalf("Open(%+v) took %v", opts, took)
		}
	}

	release()
	db := openAt(t, path)
	if rec, err := resolve(db, "held", ""); err != nil || rec.Digest != dg("held") {
		t.Fatalf("the holder's record = %+v, %v", rec, err)
	}
}

// resolve, list, remove and forget parse their strings as the boundary
// does (ParseQuery, ParseName, ParseRef) and call the typed DB method:
// the tests keep their literals and their assertions on bad input.
func resolve(db *DB, name, query string) (Record, error) {
	q, err := ParseQuery(name, query)
	if err != nil {
		return Record{}, err
	}
	return db.Resolve(q)
}

func list(db *DB, name string) ([]Module, error) {
	var n Name
	if name != "" {
		var err error
		if n, err = ParseName(name); err != nil {
			return nil, err
		}
	}
	return db.List(n)
}

func remove(db *DB, name, version string) (Record, int, error) {
	ref, err := ParseRef(name, version)
	if err != nil {
		return Record{}, 0, err
	}
	return db.Remove(ref)
}

func forget(db *DB, name, version string) (Record, bool, int, error) {
	ref, err := ParseRef(name, version)
	if err != nil {
		return Record{}, false, 0, err
	}
	return db.Forget(ref)
}
