package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/migrations"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/ghost-network/gpmd/wasm/validate"
	"github.com/opencontainers/go-digest"
)

// Info resolves q as Resolve does and returns what the parse
// of the version's bytes recorded. A version stored without a record (a
// restored or rebuilt store whose blob was missing at the migration) is
// parsed now, from its verified bytes, and its record kept. Bytes that the
// parser refuses (stored before uploads were parsed) fail with an error
// wrapping wasm.ErrInvalidModule that quotes the parser; the version is
// still served by Get.
func (r *Repo) Info(ctx context.Context, q index.Query) (index.Record, wasm.Info, error) {
	rec, err := r.Resolve(ctx, q)
	if err != nil {
		return index.Record{}, wasm.Info{}, err
	}
	ref, err := rec.Ref()
	if err != nil {
		return rec, wasm.Info{}, err
	}
	mi, err := r.idx.Info(ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		mi, err = r.fillInfo(ctx, rec)
	}
	if err != nil {
		return rec, wasm.Info{}, err
	}
	if mi.Refused != "" {
		return rec, wasm.Info{}, fmt.Errorf("module %s@%s is stored but its bytes are not a valid module: %s: %w", rec.Name, rec.Version, mi.Refused, wasm.ErrInvalidModule)
	}
	var info wasm.Info
	if err := info.UnmarshalBinary(mi.Detail); err != nil {
		return rec, wasm.Info{}, fmt.Errorf("module %s@%s: record: %w", rec.Name, rec.Version, err)
	}
	return rec, info, nil
}

// fillInfo parses the stored bytes of rec (a verifying read) and records
// what the parse found.
func (r *Repo) fillInfo(ctx context.Context, rec index.Record) (index.ModuleInfo, error) {
	ref, err := rec.Ref()
	if err != nil {
		return index.ModuleInfo{}, err
	}
	_, rd, err := r.Get(ctx, ref.Query())
	if err != nil {
		return index.ModuleInfo{}, err
	}
	defer rd.Close()
	info, perr := wasm.ParseReader(rd)
	mi, err := migrations.ModuleInfoOf(info, perr)
	if err != nil {
		return index.ModuleInfo{}, err
	}
	if err := r.idx.SetInfo(rec.Name, rec.Version, mi); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
		// The answer stands; the record is made again next time.
		r.log.Warn("module record not kept", "module", rec.Name+"@"+rec.Version, "err", err)
	}
	return mi, nil
}

// InfoSummaries returns, keyed by name@version as uploaded, the summary of
// what was recorded of every version of name ("" for all): kind, counts
// of imports and exports, or the parser's refusal. Versions with no record
// are absent.
func (r *Repo) InfoSummaries(ctx context.Context, name string) (map[string]index.ModuleInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return r.idx.InfoSummaries(name)
}

// Check resolves q and validates the version's bytes in full
// with wasm/validate (wazero compiles it; nothing runs). nil: valid; an
// error wrapping wasm.ErrInvalidModule: broken; errors.ErrUnsupported: it
// needs a feature the validator lacks, which says nothing of its validity.
func (r *Repo) Check(ctx context.Context, q index.Query) (index.Record, error) {
	rec, rd, err := r.Get(ctx, q)
	if err != nil {
		return rec, err
	}
	defer rd.Close()
	var buf bytes.Buffer
	buf.Grow(int(rec.Size))
	if _, err := buf.ReadFrom(rd); err != nil {
		return rec, err
	}
	if err := validate.CheckBytes(ctx, buf.Bytes()); err != nil {
		return rec, fmt.Errorf("module %s@%s: %w", rec.Name, rec.Version, err)
	}
	return rec, nil
}

// checkBlob validates blob d in full (UploadOptions.Check).
func (r *Repo) checkBlob(ctx context.Context, d digest.Digest) error {
	rd, err := r.blobs.Open(d)
	if err != nil {
		return err
	}
	defer rd.Close()
	return validate.Check(ctx, rd)
}
