package migrations

// API SKELETON — the helper that owns migrations/ replaces the bodies.

import (
	"context"
	"io"

	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// Upgrade brings the bbolt file at path to index.SchemaVersion in one
// transaction. A missing or empty file is left for index.Open to create.
// It reports the version it found.
func Upgrade(path string) (from int, err error) { panic("unimplemented") }

// LegacyEntry is one version listed by an early gpmd's ghost.modules.json.
type LegacyEntry struct {
	Name    string
	Version string
	File    string        // absolute path of <name>-<version>.wasm
	Digest  digest.Digest // from the legacy hex hash
}

// Uploader is what an import puts modules into: the repository in-process,
// or the daemon's control API from the CLI.
type Uploader interface {
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

// IsLegacyStore reports whether dir holds an early gpmd's store.
func IsLegacyStore(dir string) bool { panic("unimplemented") }

// ReadLegacy parses <dir>/ghost.modules.json of an early gpmd.
func ReadLegacy(dir string) ([]LegacyEntry, error) { panic("unimplemented") }

// ImportLegacy uploads every legacy version whose bytes match its hash and
// reports each one that does not (or fails otherwise) by name.
func ImportLegacy(ctx context.Context, dir string, up Uploader) (ImportReport, error) {
	panic("unimplemented")
}
