package repo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ghost-network/gpmd/blobstore"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/internal/fsutil"
	"github.com/ghost-network/gpmd/modulesjson"
	"github.com/opencontainers/go-digest"
)

// Problem kinds that Verify reports.
const (
	ProblemCorrupt     = "corrupt"      // a blob's bytes do not match its digest
	ProblemMissing     = "missing"      // a version names a blob that is not there
	ProblemStaleMirror = "stale_mirror" // ghost.modules.json does not say what the index says
	ProblemIndex       = "index"        // the index file fails its own consistency check, holds a record no upload could store, or was removed or replaced while open
	ProblemNotRegular  = "not_regular"  // something under blobs/ is not a regular file (a symlink, folder, FIFO, device)
)

// Problem is one thing wrong in the store.
type Problem struct {
	Kind    string        `json:"kind"`
	Name    string        `json:"name,omitempty"`
	Version string        `json:"version,omitempty"`
	Digest  digest.Digest `json:"digest,omitempty"`
	Message string        `json:"message"`
}

// Blob is one blob in a report.
type Blob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// VerifyReport is what Verify found. Garbage (blobs no version names) is
// not a problem: gc removes it.
type VerifyReport struct {
	Versions     int       `json:"versions"`
	Blobs        int       `json:"blobs"`
	BytesHashed  int64     `json:"bytes_hashed"`
	Problems     []Problem `json:"problems"`
	Garbage      []Blob    `json:"garbage"`
	GarbageBytes int64     `json:"garbage_bytes"`
}

// OK reports whether Verify found no problem.
func (v VerifyReport) OK() bool { return len(v.Problems) == 0 }

// Verify re-hashes every blob, checks that every version in the index has
// its blob (a regular file), that nothing under blobs/ is other than a
// regular file, that the index passes its check (every stored string as
// an upload would check it) and is still the file at its path, and that
// ghost.modules.json matches the index. It runs beside
// uploads and fetches without stopping them: it reads the index in short
// transactions and each blob through its own reader, and it re-checks a
// suspect finding against the live index before reporting it, so a version
// removed while Verify runs is not reported missing.
func (r *Repo) Verify(ctx context.Context) (VerifyReport, error) {
	// Lists start empty, never nil: the JSON of a report has [] (docs/json.md).
	rep := VerifyReport{Problems: []Problem{}, Garbage: []Blob{}}
	if err := r.idx.CheckLinked(); err != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemIndex, Message: err.Error()})
	}
	if err := r.idx.Check(); err != nil {
		rep.Problems = append(rep.Problems, Problem{Kind: ProblemIndex, Message: err.Error()})
	}
	irregular, err := r.blobs.Irregulars(ctx)
	if err != nil {
		return rep, fmt.Errorf("verify: %w", err)
	}
	for _, ir := range irregular {
		p := Problem{Kind: ProblemNotRegular, Message: fmt.Sprintf("%s is %s, not a regular file: it is no blob, and reads of a blob of that name fail", ir.RelPath, ir.Kind)}
		if d, _, err := blobstore.ParseRelPath(ir.RelPath); err == nil && d != "" {
			p.Digest = d
		}
		rep.Problems = append(rep.Problems, p)
	}
	byDigest := make(map[digest.Digest][]index.Record)
	err = r.idx.Walk(func(rec index.Record) error {
		rep.Versions++
		byDigest[rec.Digest] = append(byDigest[rec.Digest], rec)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify: reading the index: %w", err)
	}

	seen := make(map[digest.Digest]bool, len(byDigest))
	err = r.blobs.Walk(ctx, func(info blobstore.Info) error {
		rep.Blobs++
		seen[info.Digest] = true
		verr := r.blobs.Verify(ctx, info.Digest)
		switch {
		case verr == nil:
			rep.BytesHashed += info.Size
		case errors.Is(verr, errdefs.ErrNotFound):
			seen[info.Digest] = false // removed while we walked
			return nil
		case errors.Is(verr, errdefs.ErrCorrupt):
			rep.BytesHashed += info.Size
		default:
			return verr
		}
		recs, named := byDigest[info.Digest]
		if !named {
			if refs, err := r.idx.Refs(info.Digest); err == nil && refs == 0 {
				rep.Garbage = append(rep.Garbage, Blob{info.Digest, info.Size})
				rep.GarbageBytes += info.Size
			}
			return nil
		}
		if verr != nil {
			for _, rec := range recs {
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemCorrupt, Name: rec.Name, Version: rec.Version, Digest: rec.Digest,
					Message: fmt.Sprintf("%s@%s: blob %s does not match its digest", rec.Name, rec.Version, rec.Digest)})
			}
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("verify: walking blobs: %w", err)
	}
	for d, recs := range byDigest {
		if seen[d] {
			continue
		}
		for _, rec := range recs {
			// Still indexed, and still no blob? Then it is missing.
			now, err := r.idx.Resolve(rec.Name, rec.Version)
			if err != nil || now.Digest != d {
				continue
			}
			if _, err := r.blobs.Stat(d); errors.Is(err, errdefs.ErrNotFound) {
				rep.Problems = append(rep.Problems, Problem{Kind: ProblemMissing, Name: rec.Name, Version: rec.Version, Digest: d,
					Message: fmt.Sprintf("%s@%s: blob %s is missing", rec.Name, rec.Version, d)})
			}
		}
	}
	if p := r.checkMirror(ctx); p != nil {
		rep.Problems = append(rep.Problems, *p)
	}
	sortProblems(rep.Problems)
	return rep, nil
}

// checkMirror flushes pending mirror changes and compares the file with the
// index. Uploads that land in between make a mismatch that the next attempt
// clears; a mirror that stays different (or cannot be written) is stale.
func (r *Repo) checkMirror(ctx context.Context) *Problem {
	var last string
	for attempt := 0; attempt < 5; attempt++ {
		if err := ctx.Err(); err != nil {
			return &Problem{Kind: ProblemStaleMirror, Message: err.Error()}
		}
		if err := r.mirror.flush(); err != nil {
			last = fmt.Sprintf("%s cannot be written: %v", modulesjson.FileName, err)
			continue
		}
		want, err := renderMirror(r.idx)
		if err != nil {
			last = err.Error()
			continue
		}
		have, err := os.ReadFile(r.mirror.path)
		if err != nil {
			last = fmt.Sprintf("%s cannot be read: %v", modulesjson.FileName, err)
		} else if bytes.Equal(have, want) {
			return nil
		} else {
			last = fmt.Sprintf("%s differs from the index", modulesjson.FileName)
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	return &Problem{Kind: ProblemStaleMirror, Message: last}
}

// sortProblems orders problems by kind, name and version.
func sortProblems(ps []Problem) {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Version, b.Version))
	})
}

// GCReport is what GC removed (or, in a dry run, would remove).
type GCReport struct {
	DryRun    bool     `json:"dry_run"`
	Removed   []Blob   `json:"removed"`
	Bytes     int64    `json:"bytes"`
	Leftovers []string `json:"leftovers"`
}

// LeftoverAge is how old a temporary file must be before GC takes it for a
// leftover rather than an upload in progress. Open removes every leftover.
const LeftoverAge = time.Hour

// GC removes blobs that no version names, and temporary files older than
// LeftoverAge. It is safe while uploads run: a blob under an upload's lease
// (from before its commit until its index entry) is never removed, and the
// decision for each blob is taken under the same lock the leases use.
func (r *Repo) GC(ctx context.Context, dryRun bool) (GCReport, error) {
	rep := GCReport{DryRun: dryRun, Removed: []Blob{}, Leftovers: []string{}}
	var candidates []blobstore.Info
	err := r.blobs.Walk(ctx, func(info blobstore.Info) error {
		if refs, err := r.idx.Refs(info.Digest); err != nil {
			return err
		} else if refs == 0 {
			candidates = append(candidates, info)
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	for _, info := range candidates {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		r.mu.Lock()
		var gone bool
		var err error
		if dryRun {
			var refs int
			refs, err = r.idx.Refs(info.Digest)
			gone = err == nil && refs == 0 && r.leases[info.Digest] == 0
		} else {
			gone, err = r.deleteBlobIfUnusedLocked(info.Digest)
		}
		r.mu.Unlock()
		if err != nil {
			return rep, fmt.Errorf("gc: %s: %w", info.Digest, err)
		}
		if gone {
			rep.Removed = append(rep.Removed, Blob{info.Digest, info.Size})
			rep.Bytes += info.Size
		}
	}
	old := time.Now().Add(-LeftoverAge)
	rep.Leftovers = append(rep.Leftovers, r.blobs.RemoveStaleIngest(old, dryRun)...)
	// The mirror's own temporary files are the repository's to sweep.
	tmps, _ := filepath.Glob(filepath.Join(r.dir, "."+modulesjson.FileName+".*.tmp"))
	rep.Leftovers = append(rep.Leftovers, fsutil.RemoveStale(tmps, old, dryRun)...)
	if len(rep.Removed) > 0 && !dryRun {
		r.log.Info("gc removed blobs", "count", len(rep.Removed), "bytes", rep.Bytes)
	}
	return rep, nil
}
