package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/h1"
)

// Client talks to a daemon's control API. It is safe for concurrent use:
// each request has a connection of its own (internal/h1).
type Client struct {
	addr   string // host:port, or the socket's path
	host   string // the Host header: addr, or api.SocketHost
	socket bool   // over the Unix socket at addr
	token  string
	// dial opens a connection to the daemon.
	dial func(ctx context.Context) (net.Conn, error)
}

// Time limits of the client's own: everything else is the caller's ctx.
const (
	// dialTimeout bounds a connection's set-up.
	dialTimeout = 5 * time.Second
	// continueTimeout is how long an upload waits for the daemon to refuse
	// it (bad name, too large) before sending the body anyway.
	continueTimeout = 2 * time.Second
)

// NewClient returns a client of the daemon at addr (host:port). token, when
// not empty, is sent as a bearer token.
func NewClient(addr, token string) *Client {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	return &Client{addr: addr, host: addr, token: token, dial: dial}
}

// NewUnixClient returns a client of the daemon whose control socket is at
// path (<data>/gpmd.sock). Its requests carry Host: api.SocketHost. token, when
// not empty, is sent as a bearer token.
func NewUnixClient(path, token string) *Client {
	d := &net.Dialer{Timeout: dialTimeout}
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "unix", path) }
	return &Client{addr: path, host: api.SocketHost, socket: true, token: token, dial: dial}
}

// Addr is the daemon's control address: host:port, or the path of its
// Unix socket (Socket tells which).
func (c *Client) Addr() string { return c.addr }

// Socket reports whether the client talks over the Unix socket at Addr.
func (c *Client) Socket() bool { return c.socket }

// Close releases the client's resources. It holds none between requests
// (a connection lives for one request), so Close does nothing; it stays
// for callers written against a pooled client.
func (c *Client) Close() {}

// checkSegment refuses a name or version that cannot travel as one path
// segment: "." and ".." would be cleaned away by the server's router.
func checkSegment(what, s string) error {
	if s == "" || s == "." || s == ".." {
		return fmt.Errorf("%w: %s %q is empty or a dot path", errdefs.ErrInvalid, what, s)
	}
	return nil
}

// do sends a request on a connection of its own and returns the response
// when its status is 2xx; otherwise the error the response carries. body,
// when not nil, holds size bytes (-1: unknown, sent chunked); hdr may be
// nil. The caller closes the response's body, which closes the connection.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr textproto.MIMEHeader, size int64) (*h1.Response, error) {
	return c.doOn(ctx, c.dial, method, path, body, hdr, size)
}

// doOn is do on a connection dial opens.
func (c *Client) doOn(ctx context.Context, dial func(context.Context) (net.Conn, error), method, path string, body io.Reader, hdr textproto.MIMEHeader, size int64) (*h1.Response, error) {
	req := &h1.Request{Method: method, Target: path, Host: c.host, Header: textproto.MIMEHeader{}, Body: body, ContentLength: size}
	for k, v := range hdr {
		req.Header[k] = v
	}
	// An Expect: 100-continue in hdr (uploads) is h1's to send: it
	// waits continueTimeout for the daemon's refusal before the body.
	if body != nil && size != 0 && req.Header.Get("Expect") != "" {
		req.Header.Del("Expect")
		req.ContinueTimeout = continueTimeout
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	conn, err := dial(ctx)
	if err != nil {
		return nil, c.transportError(err)
	}
	resp, err := h1.Do(ctx, conn, req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// transportError turns a failed dial into api.NotRunningError, and says
// which daemon anything else concerns.
func (c *Client) transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if c.socket && errors.Is(err, syscall.EACCES) {
			return &api.SocketDeniedError{Path: c.addr, Err: err}
		}
		return &api.NotRunningError{Addr: c.addr, Err: err}
	}
	return fmt.Errorf("talking to gpmd at %s: %w", c.addr, err)
}

// readError reads an error response into an *api.APIError.
func readError(resp *h1.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body api.ErrorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &api.APIError{Status: resp.StatusCode, Code: "", Message: fmt.Sprintf("unexpected answer %s: %s", resp.Status, msg)}
	}
	return &api.APIError{Status: resp.StatusCode, Code: body.Error, Message: body.Message}
}

// getJSON GETs path and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, "GET", path, nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return c.decodeBody(resp, v)
}

// decodeBody decodes the JSON answer in resp's body into v.
func (c *Client) decodeBody(resp *h1.Response, v any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		path, _, _ := strings.Cut(resp.Request.Target, "?")
		return fmt.Errorf("reading the answer of %s %s from gpmd at %s: %w", resp.Request.Method, path, c.addr, err)
	}
	return nil
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	err := c.getJSON(ctx, "/v1/status", &st)
	return st, err
}

// Nodes is GET /v1/nodes.
func (c *Client) Nodes(ctx context.Context) (api.NodeList, error) {
	var nl api.NodeList
	err := c.getJSON(ctx, "/v1/nodes", &nl)
	return nl, err
}

// List lists every module (GET /v1/modules), or the versions of one name
// (GET /v1/modules/{name}, errdefs.ErrNotFound when it has none).
func (c *Client) List(ctx context.Context, name string) ([]api.ListedModule, error) {
	if name == "" {
		var ml api.ModuleList
		err := c.getJSON(ctx, "/v1/modules", &ml)
		return ml.Modules, err
	}
	if err := checkSegment("module name", name); err != nil {
		return nil, err
	}
	var m api.ListedModule
	if err := c.getJSON(ctx, api.ModulePath(name), &m); err != nil {
		return nil, err
	}
	return []api.ListedModule{m}, nil
}

// Info is GET /v1/modules/{name}/{query}/info: what the parse of the
// resolved version's bytes recorded (query empty: latest).
func (c *Client) Info(ctx context.Context, name, query string) (api.ModuleInfo, error) {
	var mi api.ModuleInfo
	path, err := versionPath(name, query)
	if err == nil {
		err = c.getJSON(ctx, path+"/info", &mi)
	}
	return mi, err
}

// Check is POST /v1/modules/{name}/{query}/check: full validation of the
// resolved version with wazero (query empty: latest).
func (c *Client) Check(ctx context.Context, name, query string) (api.CheckResult, error) {
	var res api.CheckResult
	path, err := versionPath(name, query)
	if err == nil {
		err = c.postJSON(ctx, path+"/check", &res)
	}
	return res, err
}

// versionPath is the path of name's version query ("" for latest).
func versionPath(name, query string) (string, error) {
	if query == "" {
		query = "latest"
	}
	if err := checkSegment("module name", name); err != nil {
		return "", err
	}
	return api.ModulePath(name, query), nil
}

// Resolve finds the version that query names (empty: latest).
func (c *Client) Resolve(ctx context.Context, name, query string) (api.Record, error) {
	if query == "" {
		query = "latest"
	}
	if err := checkSegment("module name", name); err != nil {
		return api.Record{}, err
	}
	var rec api.Record
	err := c.getJSON(ctx, api.ModulePath(name, query), &rec)
	return rec, err
}

// Remove deletes one exact version.
func (c *Client) Remove(ctx context.Context, name, version string) (api.Record, error) {
	return c.RemoveWith(ctx, name, version, false)
}

// RemoveWith is Remove; forget also drops the version's tombstone, so that
// it may be uploaded again with other bytes (DELETE ...?forget=true).
func (c *Client) RemoveWith(ctx context.Context, name, version string, forget bool) (api.Record, error) {
	if err := checkSegment("module name", name); err != nil {
		return api.Record{}, err
	}
	if err := checkSegment("version", version); err != nil {
		return api.Record{}, err
	}
	path := api.ModulePath(name, version)
	if forget {
		path += "?forget=true"
	}
	resp, err := c.do(ctx, "DELETE", path, nil, nil, 0)
	if err != nil {
		return api.Record{}, err
	}
	defer resp.Body.Close()
	var rec api.Record
	err = c.decodeBody(resp, &rec)
	return rec, err
}

// Upload sends a module version. size is the number of bytes body holds,
// or -1 when unknown (the body then goes chunked). The bytes are hashed as
// they are sent, and the digest the daemon stored must equal it.
func (c *Client) Upload(ctx context.Context, name, version string, body io.Reader, size int64) (api.Record, error) {
	return c.upload(ctx, name, version, body, size, textproto.MIMEHeader{}, false)
}

// UploadChecked is Upload with full validation (PUT …?check=true): the
// daemon compiles the module with wazero before it keeps anything, and
// refuses what wazero refuses (wasm.ErrInvalidModule) or cannot check
// (errors.ErrUnsupported).
func (c *Client) UploadChecked(ctx context.Context, name, version string, body io.Reader, size int64) (api.Record, error) {
	return c.upload(ctx, name, version, body, size, textproto.MIMEHeader{}, true)
}

// upload is Upload with extra request headers (hdr is modified).
func (c *Client) upload(ctx context.Context, name, version string, body io.Reader, size int64, hdr textproto.MIMEHeader, check bool) (api.Record, error) {
	if err := checkSegment("module name", name); err != nil {
		return api.Record{}, err
	}
	if err := checkSegment("version", version); err != nil {
		return api.Record{}, err
	}
	h := sha256.New()
	hdr.Set("Content-Type", "application/wasm")
	hdr.Set("Expect", "100-continue")
	hb := &hashingBody{r: body, h: h}
	var send io.Reader = hb
	sent := func() int64 { return hb.n.Load() }
	hashed := func() error { return nil }
	if f, off, ok := regularFile(body, size); ok {
		// A regular file of known size goes as it is: h1 hands an
		// *os.File to the kernel (sendfile), with no copy through this
		// process. Its bytes are hashed meanwhile, on another core, from
		// the same open file; a file that changes under the upload hashes
		// unlike what the daemon stored, which fails below.
		done, stop := make(chan error, 1), make(chan struct{})
		go func() { done <- hashSection(h, io.NewSectionReader(f, off, size), stop) }()
		var herr error
		waited := false
		hashed = func() error {
			if !waited {
				herr, waited = <-done, true
			}
			return herr
		}
		defer func() {
			// Never leave the hashing behind on the file; an upload that
			// failed (refused before its body, say) need not hash it all.
			close(stop)
			hashed()
		}()
		send = f
		sent = func() int64 { return size } // as good a bound as uploadCut needs
	}
	path := api.ModulePath(name, version)
	if check {
		path += "?check=true"
	}
	resp, err := c.do(ctx, "PUT", path, send, hdr, size)
	if err != nil {
		return api.Record{}, c.uploadCut(ctx, name, version, sent(), err)
	}
	defer resp.Body.Close()
	var rec api.Record
	if err := c.decodeBody(resp, &rec); err != nil {
		return api.Record{}, err
	}
	if err := hashed(); err != nil {
		return rec, fmt.Errorf("hashing the bytes sent: %w", err)
	}
	sentDigest := api.DigestOf(h.Sum(nil))
	if rec.Digest != sentDigest {
		return rec, fmt.Errorf("%w: gpmd stored %s@%s as %s, but the bytes sent hash to %s", errdefs.ErrCorrupt, rec.Name, rec.Version, rec.Digest, sentDigest)
	}
	return rec, nil
}

// uploadCut explains an upload whose connection the daemon closed while
// the body was still going (a chunked upload over the size limit: the
// daemon stops reading at the limit and closes, and its 413 may be lost
// with the connection): when more than the daemon's limit was sent, the
// error is errdefs.ErrTooLarge, as the 413 would have said.
func (c *Client) uploadCut(ctx context.Context, name, version string, sent int64, err error) error {
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		return err
	}
	st, serr := c.Status(ctx)
	if serr != nil || st.MaxModuleSize <= 0 || sent <= st.MaxModuleSize {
		return err
	}
	return fmt.Errorf("upload %s@%s: %w: more than %d bytes were sent, the limit is %d bytes (gpmd stopped reading and closed the connection)",
		name, version, errdefs.ErrTooLarge, st.MaxModuleSize, st.MaxModuleSize)
}

// regularFile returns body as a regular file with size bytes left to read
// from its offset off.
func regularFile(body io.Reader, size int64) (f *os.File, off int64, ok bool) {
	f, ok = body.(*os.File)
	if !ok || size <= 0 {
		return nil, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, false
	}
	off, err = f.Seek(0, io.SeekCurrent)
	if err != nil || fi.Size()-off != size {
		return nil, 0, false
	}
	return f, off, true
}

// hashSection hashes r into h, h1.BodyChunk bytes at a time, until r ends
// or stop is closed.
func hashSection(h hash.Hash, r io.Reader, stop <-chan struct{}) error {
	buf := make([]byte, h1.BodyChunk)
	for {
		select {
		case <-stop:
			return errors.New("upload ended before its bytes were hashed")
		default:
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// hashingBody is an upload's body: r, hashed into h as it is read (h1
// reads it h1.BodyChunk bytes at a time).
type hashingBody struct {
	r io.Reader
	h hash.Hash
	// n is the bytes read so far: how much was sent, for uploadCut. It is
	// atomic: h1's body goroutine may still be reading the
	// body when the daemon's early answer (a refused module) has come back
	// and the caller looks at it.
	n atomic.Int64
}

func (b *hashingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	b.n.Add(int64(n))
	return n, err
}

// Download writes the bytes of the version that query names (empty:
// latest) to w and returns its record. The bytes are checked against the
// record's size and digest as they arrive; on any mismatch, or a transfer
// cut short, it fails (wrapping errdefs.ErrCorrupt or
// io.ErrUnexpectedEOF) after w may have received part of the bytes: callers
// that must never expose wrong bytes write to a temporary place first.
func (c *Client) Download(ctx context.Context, name, query string, w io.Writer) (api.Record, error) {
	if query == "" {
		query = "latest"
	}
	if err := checkSegment("module name", name); err != nil {
		return api.Record{}, err
	}
	resp, err := c.do(ctx, "GET", api.ModulePath(name, query)+"/content", nil, nil, 0)
	if err != nil {
		var apiErr *api.APIError
		if errors.As(err, &apiErr) && apiErr.Status >= 500 {
			// The daemon's fault (a corrupt stored module): say plainly
			// that the download failed.
			return api.Record{}, fmt.Errorf("download of %s@%s failed: %w", name, query, err)
		}
		return api.Record{}, err
	}
	defer resp.Body.Close()
	rec, err := recordFromHeaders(resp)
	if err != nil {
		return api.Record{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return rec, fmt.Errorf("download of %s@%s failed: it broke off after %d of %d bytes (gpmd cut it: its log says why; gpmd verify checks the store): %w", rec.Name, rec.Version, n, rec.Size, err)
		}
		return rec, fmt.Errorf("download of %s@%s failed after %d of %d bytes: %w", rec.Name, rec.Version, n, rec.Size, err)
	}
	return rec, checkReceived(rec, n, h)
}

func checkReceived(rec api.Record, n int64, h hash.Hash) error {
	if n != rec.Size {
		return fmt.Errorf("download of %s@%s: got %d bytes, expected %d: %w", rec.Name, rec.Version, n, rec.Size, io.ErrUnexpectedEOF)
	}
	got := api.DigestOf(h.Sum(nil))
	if got != rec.Digest {
		return fmt.Errorf("%w: download of %s@%s: the bytes hash to %s, not %s", errdefs.ErrCorrupt, rec.Name, rec.Version, got, rec.Digest)
	}
	return nil
}

// recordFromHeaders reads the record a download carries in its headers.
func recordFromHeaders(resp *h1.Response) (api.Record, error) {
	h := resp.Header
	rec := api.Record{Name: h.Get(api.HeaderName), Version: h.Get(api.HeaderVersion), Size: resp.ContentLength}
	d, err := api.ParseDigest(h.Get(api.HeaderDigest))
	if err != nil {
		return rec, fmt.Errorf("download: the answer carries no valid %s header (%q)", api.HeaderDigest, h.Get(api.HeaderDigest))
	}
	rec.Digest = d
	if rec.Size < 0 {
		if v, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
			rec.Size = v
		} else {
			return rec, errors.New("download: the answer carries no Content-Length")
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(api.HeaderCreated)); err == nil {
		rec.Created = t
	}
	return rec, nil
}
