package migrations

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// LegacyFile is the name of the early gpmd's module list.
//
// Deprecated: use modulesjson.FileName; removed after the merge.
const LegacyFile = modulesjson.FileName

// Uploader is what an import puts modules into: the repository in-process,
// or the daemon's control API from the CLI.
type Uploader interface {
	// Upload stores body as name@version. expected is the digest the
	// bytes must have; on a mismatch Upload fails and stores nothing.
	// Uploading a version that exists with the same bytes succeeds.
	Upload(ctx context.Context, name, version string, body io.Reader, expected digest.Digest) (index.Record, error)
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported []index.Record `json:"imported"`
	Refused  []Refusal      `json:"refused"`
}

// Refusal is one legacy version left out, and why.
type Refusal struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// IsLegacyStore reports whether dir holds an early gpmd's store:
// a ghost.modules.json that parses in that shape. gpmd's own mirror has
// the same shape, so a gpmd store answers true as well.
func IsLegacyStore(dir string) bool {
	_, err := modulesjson.ReadModules(dir)
	return err == nil
}

// ImportLegacy uploads every legacy version whose bytes match its hash and
// reports each one that does not (or fails otherwise: a missing file, a
// bad name or version, bytes the uploader refuses, a conflict with what is
// stored) by name, version and reason; the import goes on past each. The
// order is modulesjson.Read's. It fails only when ghost.modules.json cannot be
// read or parsed, or when ctx ends (with what was done so far).
// Importing again is harmless: versions already there with the same bytes
// succeed again.
func ImportLegacy(ctx context.Context, dir string, up Uploader) (ImportReport, error) {
	report := ImportReport{Imported: []index.Record{}, Refused: []Refusal{}}
	entries, err := modulesjson.Read(dir)
	if err != nil {
		return report, err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		rec, err := importOne(ctx, up, e)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return report, cerr
			}
			report.Refused = append(report.Refused, Refusal{Name: e.Name, Version: e.Version, Reason: err.Error()})
			continue
		}
		report.Imported = append(report.Imported, rec)
	}
	return report, nil
}

func importOne(ctx context.Context, up Uploader, e modulesjson.Entry) (index.Record, error) {
	if e.Err != nil {
		return index.Record{}, e.Err
	}
	f, err := os.Open(e.File)
	if errors.Is(err, fs.ErrNotExist) {
		return index.Record{}, fmt.Errorf("file %s is missing", e.File)
	}
	if err != nil {
		return index.Record{}, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return index.Record{}, err
	} else if !fi.Mode().IsRegular() {
		return index.Record{}, fmt.Errorf("%s is not a regular file", e.File)
	}
	return up.Upload(ctx, e.Name, e.Version, f, e.Digest)
}
