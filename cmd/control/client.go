package control

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/opencontainers/go-digest"
)

// Client talks to a daemon's control API. It is safe for concurrent use.
type Client struct {
	addr   string // host:port, or the socket's path
	base   string // http://host:port, or http://gpmd.sock
	socket bool   // over the Unix socket at addr
	token  string
	hc     *http.Client
	// dial opens a connection to the daemon (UploadFile makes its own
	// transport with it).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// NewClient returns a client of the daemon at addr (host:port). token, when
// not empty, is sent as a bearer token.
func NewClient(addr, token string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return newClient(addr, "http://"+addr, token, d.DialContext)
}

// NewUnixClient returns a client of the daemon whose control socket is at
// path (<data>/gpmd.sock). Its requests carry Host: SocketHost. token, when
// not empty, is sent as a bearer token.
func NewUnixClient(path, token string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}
	c := newClient(path, "http://"+SocketHost, token, dial)
	c.socket = true
	return c
}

func newClient(addr, base, token string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	tr := &http.Transport{
		// Never through a proxy: the daemon is local, or reached on
		// purpose at the address given.
		Proxy:       nil,
		DialContext: dial,
		// An upload waits this long for the daemon to refuse it (bad
		// name, too large) before sending the body anyway.
		ExpectContinueTimeout: 2 * time.Second,
		ResponseHeaderTimeout: 0, // an upload's answer comes after its body
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Client{
		addr:  addr,
		base:  base,
		token: token,
		dial:  dial,
		hc: &http.Client{
			Transport: tr,
			// The API never redirects; a redirect means something else
			// answers at addr.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Addr is the daemon's control address: host:port, or the path of its
// Unix socket (Socket tells which).
func (c *Client) Addr() string { return c.addr }

// Socket reports whether the client talks over the Unix socket at Addr.
func (c *Client) Socket() bool { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// modulePath is /v1/modules/<name>[/<version>], each part escaped.
func modulePath(name string, version ...string) string {
	p := "/v1/modules/" + url.PathEscape(name)
	for _, v := range version {
		p += "/" + url.PathEscape(v)
	}
	return p
}

// checkSegment refuses a name or version that cannot travel as one path
// segment: "." and ".." would be cleaned away by the server's router.
func checkSegment(what, s string) error {
	if s == "" || s == "." || s == ".." {
		return fmt.Errorf("%w: %s %q is empty or a dot path", errdefs.ErrInvalid, what, s)
	}
	return nil
}

// do sends a request and returns the response when its status is 2xx;
// otherwise the error the response carries.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, hdr http.Header, size int64) (*http.Response, error) {
	return c.doOn(ctx, c.hc, method, path, body, hdr, size)
}

// doOn is do through hc.
func (c *Client) doOn(ctx context.Context, hc *http.Client, method, path string, body io.Reader, hdr http.Header, size int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.ContentLength = size // -1: chunked
		if size == 0 {
			req.Body = http.NoBody
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// transportError turns a failed dial into NotRunningError.
func (c *Client) transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if c.socket && errors.Is(err, syscall.EACCES) {
			return &SocketDeniedError{Path: c.addr, Err: err}
		}
		return &NotRunningError{Addr: c.addr, Err: err}
	}
	if ue, ok := err.(*url.Error); ok {
		// "Put \"http://…\": " adds nothing a person needs.
		err = ue.Err
	}
	return fmt.Errorf("talking to gpmd at %s: %w", c.addr, err)
}

// readError reads an error response into an *APIError.
func readError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body ErrorBody
	if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &APIError{Status: resp.StatusCode, Code: "", Message: fmt.Sprintf("unexpected answer %s: %s", resp.Status, msg)}
	}
	return &APIError{Status: resp.StatusCode, Code: body.Error, Message: body.Message}
}

// getJSON GETs path and decodes the JSON answer into v.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeBody(resp, v)
}

func decodeBody(resp *http.Response, v any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("reading the answer of %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// Status is GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.getJSON(ctx, "/v1/status", &st)
	return st, err
}

// Nodes is GET /v1/nodes.
func (c *Client) Nodes(ctx context.Context) (NodeList, error) {
	var nl NodeList
	err := c.getJSON(ctx, "/v1/nodes", &nl)
	return nl, err
}

// List lists every module (GET /v1/modules), or the versions of one name
// (GET /v1/modules/{name}, errdefs.ErrNotFound when it has none).
func (c *Client) List(ctx context.Context, name string) ([]index.Module, error) {
	if name == "" {
		var ml ModuleList
		err := c.getJSON(ctx, "/v1/modules", &ml)
		return ml.Modules, err
	}
	if err := checkSegment("module name", name); err != nil {
		return nil, err
	}
	var m index.Module
	if err := c.getJSON(ctx, modulePath(name), &m); err != nil {
		return nil, err
	}
	return []index.Module{m}, nil
}

// Resolve finds the version that query names (empty: latest).
func (c *Client) Resolve(ctx context.Context, name, query string) (index.Record, error) {
	if query == "" {
		query = "latest"
	}
	if err := checkSegment("module name", name); err != nil {
		return index.Record{}, err
	}
	var rec index.Record
	err := c.getJSON(ctx, modulePath(name, query), &rec)
	return rec, err
}

// Remove deletes one exact version.
func (c *Client) Remove(ctx context.Context, name, version string) (index.Record, error) {
	return c.RemoveWith(ctx, name, version, false)
}

// RemoveWith is Remove; forget also drops the version's tombstone, so that
// it may be uploaded again with other bytes (DELETE ...?forget=true).
func (c *Client) RemoveWith(ctx context.Context, name, version string, forget bool) (index.Record, error) {
	if err := checkSegment("module name", name); err != nil {
		return index.Record{}, err
	}
	if err := checkSegment("version", version); err != nil {
		return index.Record{}, err
	}
	path := modulePath(name, version)
	if forget {
		path += "?forget=true"
	}
	resp, err := c.do(ctx, http.MethodDelete, path, nil, nil, 0)
	if err != nil {
		return index.Record{}, err
	}
	defer resp.Body.Close()
	var rec index.Record
	err = decodeBody(resp, &rec)
	return rec, err
}

// Upload sends a module version. size is the number of bytes body holds,
// or -1 when unknown (the body then goes chunked). The bytes are hashed as
// they are sent, and the digest the daemon stored must equal it.
func (c *Client) Upload(ctx context.Context, name, version string, body io.Reader, size int64) (index.Record, error) {
	return c.upload(ctx, name, version, body, size, http.Header{})
}

// upload is Upload with extra request headers (hdr is modified).
func (c *Client) upload(ctx context.Context, name, version string, body io.Reader, size int64, hdr http.Header) (index.Record, error) {
	if err := checkSegment("module name", name); err != nil {
		return index.Record{}, err
	}
	if err := checkSegment("version", version); err != nil {
		return index.Record{}, err
	}
	h := sha256.New()
	hdr.Set("Content-Type", "application/wasm")
	hdr.Set("Expect", "100-continue")
	counted := &countingReader{r: io.TeeReader(body, h)}
	resp, err := c.do(ctx, http.MethodPut, modulePath(name, version), counted, hdr, size)
	if err != nil {
		return index.Record{}, c.uploadCut(ctx, name, version, counted.n, err)
	}
	defer resp.Body.Close()
	var rec index.Record
	if err := decodeBody(resp, &rec); err != nil {
		return index.Record{}, err
	}
	sent := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if rec.Digest != sent {
		return rec, fmt.Errorf("%w: gpmd stored %s@%s as %s, but the bytes sent hash to %s", errdefs.ErrCorrupt, rec.Name, rec.Version, rec.Digest, sent)
	}
	return rec, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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

// Download writes the bytes of the version that query names (empty:
// latest) to w and returns its record. The bytes are checked against the
// record's size and digest as they arrive; on any mismatch, or a transfer
// cut short, it fails (wrapping errdefs.ErrCorrupt or
// io.ErrUnexpectedEOF) after w may have received part of the bytes: callers
// that must never expose wrong bytes write to a temporary place first.
func (c *Client) Download(ctx context.Context, name, query string, w io.Writer) (index.Record, error) {
	if query == "" {
		query = "latest"
	}
	if err := checkSegment("module name", name); err != nil {
		return index.Record{}, err
	}
	resp, err := c.do(ctx, http.MethodGet, modulePath(name, query)+"/content", nil, nil, 0)
	if err != nil {
		var api *APIError
		if errors.As(err, &api) && api.Status >= 500 {
			// The daemon's fault (a corrupt stored module): say plainly
			// that the download failed.
			return index.Record{}, fmt.Errorf("download of %s@%s failed: %w", name, query, err)
		}
		return index.Record{}, err
	}
	defer resp.Body.Close()
	rec, err := recordFromHeaders(resp)
	if err != nil {
		return index.Record{}, err
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

func checkReceived(rec index.Record, n int64, h hash.Hash) error {
	if n != rec.Size {
		return fmt.Errorf("download of %s@%s: got %d bytes, expected %d: %w", rec.Name, rec.Version, n, rec.Size, io.ErrUnexpectedEOF)
	}
	got := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))
	if got != rec.Digest {
		return fmt.Errorf("%w: download of %s@%s: the bytes hash to %s, not %s", errdefs.ErrCorrupt, rec.Name, rec.Version, got, rec.Digest)
	}
	return nil
}

// recordFromHeaders reads the record a download carries in its headers.
func recordFromHeaders(resp *http.Response) (index.Record, error) {
	h := resp.Header
	rec := index.Record{Name: h.Get(HeaderName), Version: h.Get(HeaderVersion), Size: resp.ContentLength}
	d, err := digest.Parse(h.Get(HeaderDigest))
	if err != nil {
		return rec, fmt.Errorf("download: the answer carries no valid %s header (%q)", HeaderDigest, h.Get(HeaderDigest))
	}
	rec.Digest = d
	if rec.Size < 0 {
		if v, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil {
			rec.Size = v
		} else {
			return rec, errors.New("download: the answer carries no Content-Length")
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(HeaderCreated)); err == nil {
		rec.Created = t
	}
	return rec, nil
}
