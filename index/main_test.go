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
	if rec, err := db.Resolve("held", ""); err != nil || rec.Digest != dg("held") {
		t.Fatalf("the holder's record = %+v, %v", rec, err)
	}
}
