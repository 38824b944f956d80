package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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

// gmpSource fetches over the node's GMP connection, and sends a request
// that carries `have` on a connection of its own: today's GMP client has
// no `have` yet. When it does, haveRequest goes and FetchModule is one
// client call. A GPMD that does not implement `have` ignores the field and
// sends the binary, which is as correct, only bigger.
type gmpSource struct {
	c    *client.Client
	addr string
}

var _ moduleSource = gmpSource{}

func (s gmpSource) FetchModule(ctx context.Context, name, version, have string) (wire.ModuleInfo, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, moduleTimeout)
	defer cancel()
	if have == "" {
		return s.c.ModuleBytes(ctx, name, version)
	}
	return haveRequest(ctx, s.addr, name, version, have)
}

// haveRequest sends one MODULE_REQUEST with `have` on a new connection and
// reads its reply.
func haveRequest(ctx context.Context, addr, name, version, have string) (wire.ModuleInfo, []byte, error) {
	var info wire.ModuleInfo
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return info, nil, fmt.Errorf("gmp %s: %w", addr, err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	req, _ := json.Marshal(map[string]any{"type": wire.TypeWasm, "code": wire.CodeModuleRequest, "id": 1,
		"body": map[string]string{"name": name, "version": version, "have": have}})
	if _, err := nc.Write(append(req, '\n')); err != nil {
		return info, nil, fmt.Errorf("gmp %s: %w", addr, err)
	}
	var reply struct {
		Type, Code int
		Body       json.RawMessage
	}
	// A reply holds the module in base64: 4/3 of its size and some.
	dec := json.NewDecoder(io.LimitReader(bufio.NewReader(nc), maxModule/3*4+64<<10))
	if err := dec.Decode(&reply); err != nil {
		return info, nil, fmt.Errorf("gmp %s: reading MODULE: %w", addr, err)
	}
	var body struct {
		wire.ModuleInfo
		Binary  *[]byte `json:"binary"`
		Error   string  `json:"error"`
		Message string  `json:"message"`
	}
	if err := json.Unmarshal(reply.Body, &body); err != nil {
		return info, nil, fmt.Errorf("%w: %v", client.ErrBadReply, err)
	}
	info = body.ModuleInfo
	switch {
	case reply.Type == wire.TypeWasm && reply.Code == wire.CodeModuleNotFound:
		return info, nil, fmt.Errorf("%w: %s", errdefs.ErrNotFound, body.Message)
	case reply.Type == wire.TypeSession && reply.Code == wire.CodeError:
		return info, nil, &client.ProtocolError{Code: body.Error, Message: body.Message}
	case reply.Type != wire.TypeWasm || reply.Code != wire.CodeModule:
		return info, nil, fmt.Errorf("%w: type %d code %d", client.ErrBadReply, reply.Type, reply.Code)
	case body.Binary == nil:
		if info.Hash != have {
			return info, nil, fmt.Errorf("%w: MODULE without binary for %s, which we do not hold", client.ErrBadReply, info.Hash)
		}
		return info, nil, nil
	}
	b := *body.Binary
	if digestOf(b) != info.Hash || int64(len(b)) != info.Size {
		return info, nil, fmt.Errorf("%w: module %s %s", client.ErrHashMismatch, name, info.Version)
	}
	return info, b, nil
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
