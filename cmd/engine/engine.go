// Package engine is the command line's engine in-process: the daemon,
// restore, rebuild-index, import and backup extraction, each run in the
// calling process on the repository, the index and the daemon packages.
// Only gpmd-daemon links it; gpmd hands these commands to gpmd-daemon
// (cli.ExecDaemon), so that the command line's own start links none of
// the engine's dependencies (issue 15).
//
// Engine satisfies cli.Engine, whose doc states each method's contract;
// the reports are converted to the control API's types (cmd/control/api)
// through their JSON, the very encoding `-o json` prints, so what the
// command line shows is what the engine reported, field for field.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/migrations"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/ghost-network/gpmd/repo"
)

// Engine runs the engine's work in this process. The zero value is ready.
type Engine struct{}

// storeLockTimeout is how long an offline command waits for the index's
// own lock (the folder's daemon lock is held already).
const storeLockTimeout = time.Second

// statusTimeout bounds Import's first question to the daemon, whether it
// is there: the command line's bound on a request.
const statusTimeout = 30 * time.Second

// RunDaemon runs the daemon (daemon.Run).
func (Engine) RunDaemon(ctx context.Context, cfg conf.Config, ready func(conf.State)) error {
	return daemon.Run(ctx, cfg, ready)
}

// Restore is repo.Restore into the empty store of dataDir, under the
// folder's lock.
func (Engine) Restore(ctx context.Context, dataDir, from string) (api.RestoreReport, error) {
	release, err := lockOffline(dataDir, "restore")
	if err != nil {
		return api.RestoreReport{}, err
	}
	defer release()
	modules := filepath.Join(dataDir, conf.ModulesDir)
	if entries, err := os.ReadDir(modules); err == nil && len(entries) > 0 {
		return api.RestoreReport{}, fmt.Errorf("the data folder %s already holds a module store (%s is not empty): restore only into an empty data folder (choose another with --data-dir)", dataDir, modules)
	}
	rep, err := repo.Restore(ctx, from, modules, repo.Options{LockTimeout: storeLockTimeout})
	if err != nil {
		return api.RestoreReport{}, fmt.Errorf("restore from %s: %w", from, err)
	}
	return viaJSON[api.RestoreReport](rep)
}

// RebuildIndex is repo.RebuildIndex of dataDir's store, under the
// folder's lock, unless its index is healthy and not force.
func (Engine) RebuildIndex(ctx context.Context, dataDir string, force bool) (*api.RestoreReport, int, error) {
	modules := filepath.Join(dataDir, conf.ModulesDir)
	release, err := lockOffline(dataDir, "rebuild-index")
	if err != nil {
		return nil, 0, err
	}
	defer release()
	if !force {
		if healthy, n := indexHealthy(filepath.Join(modules, repo.IndexFile)); healthy {
			return nil, n, nil
		}
	}
	rep, err := repo.RebuildIndex(ctx, modules, repo.Options{LockTimeout: storeLockTimeout})
	if err != nil {
		if errors.Is(err, index.ErrLocked) {
			return nil, 0, fmt.Errorf("the module store %s is in use by another process (stop it first): %w", modules, err)
		}
		return nil, 0, fmt.Errorf("rebuild-index of %s: %w", modules, err)
	}
	out, err := viaJSON[api.RestoreReport](rep)
	return &out, 0, err
}

// Import is migrations.ImportLegacy through c.
func (Engine) Import(ctx context.Context, c *client.Client, from string) (api.ImportReport, error) {
	if _, err := os.Stat(filepath.Join(from, modulesjson.FileName)); err != nil {
		// The .ghost-network folder above modules/ will do too.
		if _, err2 := os.Stat(filepath.Join(from, "modules", modulesjson.FileName)); err2 != nil {
			return api.ImportReport{}, invalidf("%s holds no %s: not an early gpmd store", from, modulesjson.FileName)
		}
		from = filepath.Join(from, "modules")
	}
	// Fail at once, and once, when the daemon is not there, rather than
	// refusing every version for it.
	sctx, cancel := context.WithTimeout(ctx, statusTimeout)
	_, err := c.Status(sctx)
	cancel()
	if err != nil {
		return api.ImportReport{}, err
	}
	rep, err := migrations.ImportLegacy(ctx, from, uploader{c})
	if err != nil {
		return api.ImportReport{}, fmt.Errorf("import from %s: %w", from, err)
	}
	out, err := viaJSON[api.ImportReport](rep)
	out.From = from
	return out, err
}

// ExtractBackup is repo.ExtractBackup.
func (Engine) ExtractBackup(ctx context.Context, r io.Reader, to string) (api.BackupReport, error) {
	rep, err := repo.ExtractBackup(ctx, r, to)
	return api.BackupReport{Versions: rep.Versions, Blobs: rep.Blobs, Bytes: rep.Bytes}, err
}

// uploader is a migrations.Uploader that uploads through the control
// API's client: an import of an early store goes through the daemon like
// any upload.
type uploader struct{ c *client.Client }

// Upload uploads body (of unknown size) as ref, refused unless it hashes
// to expected. The daemon parses the name and version again: it is the
// boundary of its own process.
func (u uploader) Upload(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest) (index.Record, error) {
	rec, err := u.c.UploadDigest(ctx, ref.Name().String(), ref.Version().Original(), body, -1, api.Digest(expected))
	return index.Record{Name: rec.Name, Version: rec.Version, Digest: digest.Digest(rec.Digest), Size: rec.Size, Created: rec.Created}, err
}

// lockOffline takes the data folder's daemon lock for an offline command,
// so that no daemon runs on it meanwhile.
func lockOffline(dir, what string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	release, err := conf.LockDataDir(dir)
	if err != nil {
		var re *conf.RunningError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%v: %s works only while the daemon is stopped (gpmd kill)", re, what)
		}
		return nil, err
	}
	return release, nil
}

// indexHealthy reports whether the index file at path exists, opens (its
// schema current) and passes its consistency check, and how many versions
// it holds. It opens read-only: nothing changes.
func indexHealthy(path string) (bool, int) {
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return false, 0
	}
	db, err := index.Open(path, index.Options{ReadOnly: true, Timeout: storeLockTimeout})
	if err != nil {
		return false, 0
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return false, 0
	}
	st, err := db.Stats()
	if err != nil {
		return false, 0
	}
	return true, st.Versions
}

// viaJSON turns a report into the control API's type of it through the
// JSON both write (see the package doc).
func viaJSON[T any](v any) (T, error) {
	var out T
	data, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(data, &out)
	}
	if err != nil {
		return out, fmt.Errorf("reading the report: %w", err)
	}
	return out, nil
}

// invalidError is bad input found by the engine: its message alone, and
// the class errdefs.ErrInvalid (exit status 2).
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return errdefs.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
