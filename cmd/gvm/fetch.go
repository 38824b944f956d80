package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/client"
	"github.com/ghost-network/gpmd/gmp/wire"
)

// moduleTimeout bounds the fetch of one module.
const moduleTimeout = 5 * time.Minute

// maxModule bounds a module gvm fetches (GPMD's default upload limit).
const maxModule = 256 << 20

// moduleSource fetches modules over GMP.
type moduleSource interface {
	// FetchModule asks for name@version (version "" for latest, an exact
	// version or a constraint), offering have ("" for none): the digest of
	// bytes the caller holds. It returns the bytes, checked against the
	// reply's hash and size, or nil bytes when GPMD answered without a
	// binary because the hash equals have. No such module or version is
	// an error wrapping errdefs.ErrNotFound.
	FetchModule(ctx context.Context, name, version, have string) (wire.ModuleInfo, []byte, error)
}

// gmpSource fetches over the node's GMP connection. A GPMD that does not
// implement `have` ignores the field and sends the binary, which is as
// correct, only bigger.
type gmpSource struct {
	c *client.Client
}

var _ moduleSource = gmpSource{}

func (s gmpSource) FetchModule(ctx context.Context, name, version, have string) (wire.ModuleInfo, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, moduleTimeout)
	defer cancel()
	var buf bytes.Buffer
	info, held, err := s.c.ModuleHave(ctx, name, version, have, &buf)
	if err != nil || held {
		return info, nil, err
	}
	return info, buf.Bytes(), nil
}

// fetcher gets modules: from the cache when it can, else over GMP.
type fetcher struct {
	src   moduleSource
	c     *client.Client // for LIST, to say what versions there are
	cache *moduleCache
}

// fetch returns name@version's bytes, checked against their digest. It
// offers the digest name@version resolved to last time, and uses the
// cached bytes when GPMD answers without a binary.
func (f *fetcher) fetch(ctx context.Context, name, version string) (wire.ModuleInfo, []byte, error) {
	have := f.cache.ref(name, version)
	if have != "" {
		if _, ok := f.cache.get(have); !ok {
			have = ""
		}
	}
	info, b, err := f.src.FetchModule(ctx, name, version, have)
	if err != nil {
		return info, nil, f.explain(ctx, name, version, err)
	}
	if b == nil {
		cached, ok := f.cache.get(info.Hash)
		if !ok { // removed since we looked: fetch it whole
			info, b, err = f.src.FetchModule(ctx, name, version, "")
			if err != nil {
				return info, nil, f.explain(ctx, name, version, err)
			}
		} else {
			b = cached
		}
	}
	// A warm run writes nothing: files are written (and synced) only when
	// they change.
	if info.Hash != have {
		f.cache.put(b)
	}
	if f.cache.ref(name, version) != info.Hash {
		f.cache.setRef(name, version, info.Hash)
	}
	return info, b, nil
}

// explain turns a fetch error into gvm's: a module not found lists the
// versions there are; a bad version is a usage error.
func (f *fetcher) explain(ctx context.Context, name, version string, err error) error {
	var pe *client.ProtocolError
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		return notFoundError(ctx, f.c, name, version)
	case errors.As(err, &pe) && pe.Code == wire.ErrCodeBadRequest:
		return &usageError{msg: pe.Message}
	}
	return fmt.Errorf("module %s@%s: %w", name, orLatest(version), err)
}

// notFoundError says that name@version is not there, listing the versions
// that are (LIST).
func notFoundError(ctx context.Context, c *client.Client, name, version string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	entries, err := c.List(ctx, name)
	var versions []string
	for _, e := range entries {
		if e.Name == name {
			for _, v := range e.Versions {
				versions = append(versions, v.Version)
			}
		}
	}
	switch {
	case err != nil:
		return fmt.Errorf("module %s@%s not found: %w", name, orLatest(version), errdefs.ErrNotFound)
	case len(versions) == 0:
		return fmt.Errorf("no module named %s in gpmd (gpmd wasm list shows the modules): %w", name, errdefs.ErrNotFound)
	}
	return fmt.Errorf("module %s has no version %s (its versions: %s): %w", name, orLatest(version), strings.Join(versions, ", "), errdefs.ErrNotFound)
}

func orLatest(v string) string {
	if v == "" {
		return "latest"
	}
	return v
}

// latestOf is the version a blank MODULE_REQUEST gets, from a MODULES
// entry (versions highest first): the highest that is not a pre-release,
// else the highest.
func latestOf(e wire.ModuleEntry) (wire.ModuleVersion, bool) {
	for _, v := range e.Versions {
		if sv, err := semver.NewVersion(v.Version); err == nil && sv.Prerelease() == "" {
			return v, true
		}
	}
	if len(e.Versions) > 0 {
		return e.Versions[0], true
	}
	return wire.ModuleVersion{}, false
}
