package migrations

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/fsutil"

	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// LegacyFile is the name of the early gpmd's module list.
//
// Uploader is what an import puts modules into: the repository in-process,
// or the daemon's control API from the CLI.
type Uploader interface {
	// Upload stores body as name@version. expected is the digest the
	// bytes must have; on a mismatch Upload fails and stores nothing.
	// Uploading a version that exists with the same bytes succeeds.
	Upload(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest) (index.Record, error)
}

// CreatedUploader is an Uploader that can keep a version's creation time
// (the repository can; the control API cannot). ImportLegacy uses it, where
// the file records the time, so that a rebuild keeps each version's
// created.
type CreatedUploader interface {
	Uploader
	UploadCreated(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest, created time.Time) (index.Record, error)
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported []index.Record `json:"imported"`
	Refused  []Refusal      `json:"refused"`
}

// Refusal is one legacy version left out, and why. Name and Version are as
// listed, but quoted Go-style (strconv.QuoteToASCII) when they hold
// anything but printable ASCII: a crafted folder must not put terminal
// escape codes on the screen of whoever reads the report.
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
//
// The folder is not trusted (the import may run with more rights than
// whoever made it): only regular files inside dir are read, through an
// os.Root (no path, symlink or ".." leads out of it) and never through a
// symlink at all, never blocking on a FIFO or device. Each file is hashed
// before anything is sent, and one whose bytes do not match the listed
// hash is refused without sending it; no refusal quotes a hash or bytes of
// a file that was not imported.
func ImportLegacy(ctx context.Context, dir string, up Uploader) (ImportReport, error) {
	report := ImportReport{Imported: []index.Record{}, Refused: []Refusal{}}
	entries, err := modulesjson.Read(dir)
	if err != nil {
		return report, err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return report, err
	}
	root, err := os.OpenRoot(absDir)
	if err != nil {
		return report, err
	}
	defer root.Close()
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return report, err
		}
		rec, err := importOne(ctx, up, root, absDir, e)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return report, cerr
			}
			report.Refused = append(report.Refused, Refusal{Name: printable(e.Name), Version: printable(e.Version), Reason: err.Error()})
			continue
		}
		report.Imported = append(report.Imported, rec)
	}
	return report, nil
}

func importOne(ctx context.Context, up Uploader, root *os.Root, absDir string, e modulesjson.Entry) (index.Record, error) {
	if e.Err != nil {
		return index.Record{}, e.Err
	}
	rel, err := filepath.Rel(absDir, e.File)
	if err != nil || !filepath.IsLocal(rel) {
		return index.Record{}, fmt.Errorf("file %s lies outside %s", e.File, absDir)
	}
	f, err := openRegularIn(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return index.Record{}, fmt.Errorf("file %s is missing", e.File)
	}
	if err != nil {
		return index.Record{}, err
	}
	defer f.Close()
	// Hash first: bytes that do not match are never sent, and the
	// refusal does not say what they hash to.
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return index.Record{}, fmt.Errorf("reading %s: %w", e.File, err)
	}
	if digest.NewDigest(digest.SHA256, h) != e.Digest {
		return index.Record{}, fmt.Errorf("%s: bytes do not match their digest as listed in %s (%w)", e.File, modulesjson.FileName, errdefs.ErrCorrupt)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return index.Record{}, err
	}
	if cu, ok := up.(CreatedUploader); ok && !e.Created.IsZero() {
		return cu.UploadCreated(ctx, e.Ref, f, e.Digest, e.Created)
	}
	return up.Upload(ctx, e.Ref, f, e.Digest)
}

// openRegularIn opens rel inside root for reading when it is a regular
// file: a symlink (even one pointing inside) is refused, and a FIFO or
// device is refused without blocking, its type read from the open
// descriptor.
func openRegularIn(root *os.Root, rel string) (*os.File, error) {
	lfi, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !lfi.Mode().IsRegular() {
		return nil, &fsutil.NotRegularError{Path: rel, Kind: fsutil.KindOf(lfi.Mode())}
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() || !os.SameFile(fi, lfi) {
		f.Close()
		return nil, &fsutil.NotRegularError{Path: rel, Kind: fsutil.KindOf(fi.Mode()) + " (changed while opened)"}
	}
	return f, nil
}

// printable returns s, or s quoted with every non-printable or non-ASCII
// rune escaped when it holds one.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return strconv.QuoteToASCII(s)
		}
	}
	return s
}
