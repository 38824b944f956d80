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
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
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
// path (<data>/gpmd.sock). Its requests carry Host: api.SocketHost. token, when
// not empty, is sent as a bearer token.
func NewUnixClient(path, token string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}
	c := newClient(path, "http://"+api.SocketHost, token, dial)
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

// transportError turns a failed dial into api.NotRunningError.
func (c *Client) transportError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if c.socket && errors.Is(err, syscall.EACCES) {
			return &api.SocketDeniedError{Path: c.addr, Err: err}
		}
		return &api.NotRunningError{Addr: c.addr, Err: err}
	}
	if ue, ok := err.(*url.Error); ok {
		// "Put \"http://…\": " adds nothing a person needs.
		err = ue.Err
	}
	return fmt.Errorf("talking to gpmd at %s: %w", c.addr, err)
}

// readError reads an error response into an *api.APIError.
func readError(resp *http.Response) error {
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
	resp, err := c.do(ctx, http.MethodDelete, path, nil, nil, 0)
	if err != nil {
		return api.Record{}, err
	}
	defer resp.Body.Close()
	var rec api.Record
	err = decodeBody(resp, &rec)
	return rec, err
}

// Upload sends a module version. size is the number of bytes body holds,
// or -1 when unknown (the body then goes chunked). The bytes are hashed as
// they are sent, and the digest the daemon stored must equal it.
func (c *Client) Upload(ctx context.Context, name, version string, body io.Reader, size int64) (api.Record, error) {
	return c.upload(ctx, name, version, body, size, http.Header{}, false)
}

// UploadChecked is Upload with full validation (PUT …?check=true): the
// daemon compiles the module with wazero before it keeps anything, and
// refuses what wazero refuses (wasm.ErrInvalidModule) or cannot check
// (errors.ErrUnsupported).
func (c *Client) UploadChecked(ctx context.Context, name, version string, body io.Reader, size int64) (api.Record, error) {
	return c.upload(ctx, name, version, body, size, http.Header{}, true)
}

// upload is Upload with extra request headers (hdr is modified).
func (c *Client) upload(ctx context.Context, name, version string, body io.Reader, size int64, hdr http.Header, check bool) (api.Record, error) {
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
	if f, off, dup, ok := regularFile(body, size); ok {
		// A regular file of known size goes as it is: net/http hands an
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
		// net/http closes the body once sent, and sends by sendfile only
		// an *os.File it holds bare: it gets a duplicate of the caller's
		// file, which stays open for the hashing.
		send = dup
		sent = func() int64 { return size } // as good a bound as uploadCut needs
		defer dup.Close()                   // when the request never reached net/http; else a no-op
	}
	path := api.ModulePath(name, version)
	if check {
		path += "?check=true"
	}
	resp, err := c.do(ctx, http.MethodPut, path, send, hdr, size)
	if err != nil {
		return api.Record{}, c.uploadCut(ctx, name, version, sent(), err)
	}
	defer resp.Body.Close()
	var rec api.Record
	if err := decodeBody(resp, &rec); err != nil {
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
// from its offset off, and a duplicate of it for net/http to send.
func regularFile(body io.Reader, size int64) (f *os.File, off int64, dup *os.File, ok bool) {
	f, ok = body.(*os.File)
	if !ok || size <= 0 {
		return nil, 0, nil, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, nil, false
	}
	off, err = f.Seek(0, io.SeekCurrent)
	if err != nil || fi.Size()-off != size {
		return nil, 0, nil, false
	}
	if dup, ok = dupFile(f); !ok {
		return nil, 0, nil, false
	}
	return f, off, dup, true
}

// hashSection hashes r into h, uploadChunk bytes at a time, until r ends
// or stop is closed.
func hashSection(h hash.Hash, r io.Reader, stop <-chan struct{}) error {
	buf := make([]byte, uploadChunk)
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

// uploadChunk is the size of an upload's reads and socket writes when it
// is not a regular file. Copied by net/http's own loop, a body goes in
// 32 KiB pieces: 512 reads and 512 writes for 16 MiB, and a daemon that
// reads 32 KiB at a time. 256 KiB is the daemon's blob write size.
const uploadChunk = 256 << 10

// hashingBody is an upload's body: r, hashed into h as it is read. As an
// io.WriterTo (which net/http uses to send a chunked request body) it
// sends r in uploadChunk pieces.
type hashingBody struct {
	r io.Reader
	h hash.Hash
	// n is the bytes read so far: how much was sent, for uploadCut. It is
	// atomic: the transport's writer goroutine may still be reading the
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

// WriteTo sends the whole body to w, uploadChunk bytes at a time.
func (b *hashingBody) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, uploadChunk)
	var total int64
	for {
		n, err := io.ReadFull(b.r, buf)
		if n > 0 {
			b.h.Write(buf[:n])
			m, werr := w.Write(buf[:n])
			total += int64(m)
			b.n.Add(int64(m))
			if werr != nil {
				return total, werr
			}
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return total, nil
		default:
			return total, err
		}
	}
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
	resp, err := c.do(ctx, http.MethodGet, api.ModulePath(name, query)+"/content", nil, nil, 0)
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
func recordFromHeaders(resp *http.Response) (api.Record, error) {
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
