package oci

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/ghost-network/gpmd/errdefs"
)

// Options configures a Client. The zero value is usable: docker's credential
// store, plain HTTP for loopback registries only, the Default* limits.
type Options struct {
	// CredentialsConfig is the path of a docker/oras config.json holding
	// credentials and credential helpers. Empty means docker's default
	// ($DOCKER_CONFIG/config.json or ~/.docker/config.json).
	CredentialsConfig string
	// PlainHTTP speaks HTTP instead of HTTPS to every registry. Without it
	// only loopback registries are reached over plain HTTP.
	PlainHTTP bool
	// DialTimeout and ResponseHeaderTimeout bound the HTTP client (see the
	// Default* constants).
	DialTimeout           time.Duration
	ResponseHeaderTimeout time.Duration
	// MaxManifestSize, MaxConfigSize and MaxLayerSize bound what Pull reads.
	MaxManifestSize int64
	MaxConfigSize   int64
	MaxLayerSize    int64
	// TagCacheTTL is how long an Upstream trusts a tag list.
	TagCacheTTL time.Duration
	// Now stamps the config's "created"; nil means time.Now. Tests pin it.
	Now func() time.Time
}

// Client talks to OCI registries. It is safe for concurrent use; one Client
// per daemon shares connections and the auth token cache.
type Client struct {
	opts  Options
	http  *http.Client
	creds credentials.Store
	cache auth.Cache
}

// NewClient returns a Client for opts. It fails only when the credentials
// config exists and cannot be read (ErrInvalid).
func NewClient(opts Options) (*Client, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if opts.MaxManifestSize <= 0 {
		opts.MaxManifestSize = DefaultMaxManifestSize
	}
	if opts.MaxConfigSize <= 0 {
		opts.MaxConfigSize = DefaultMaxConfigSize
	}
	if opts.MaxLayerSize <= 0 {
		opts.MaxLayerSize = DefaultMaxLayerSize
	}
	if opts.TagCacheTTL <= 0 {
		opts.TagCacheTTL = DefaultTagCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var (
		store credentials.Store
		err   error
	)
	// Never save credentials in plain text: GPMD only reads the store.
	storeOpts := credentials.StoreOptions{}
	if opts.CredentialsConfig != "" {
		store, err = credentials.NewStore(opts.CredentialsConfig, storeOpts)
	} else {
		store, err = credentials.NewStoreFromDocker(storeOpts)
	}
	if err != nil {
		return nil, fmt.Errorf("registry credentials %s: %w: %v", opts.CredentialsConfig, errdefs.ErrInvalid, err)
	}
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   opts.DialTimeout,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
		// Modules run to tens of MB: larger socket buffers than the 4 KiB
		// default cut the syscalls per byte on both push and pull.
		ReadBufferSize:  256 << 10,
		WriteBufferSize: 256 << 10,
	}
	return &Client{
		opts: opts,
		// http.Client follows redirects (a registry may send blobs to a
		// CDN with 307); oras-go's auth.Client drops the Authorization
		// header once a redirect leaves the registry's origin.
		http:  &http.Client{Transport: transport},
		creds: store,
		cache: auth.NewCache(),
	}, nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// parseRef parses REGISTRY/REPOSITORY[:TAG|@DIGEST] with oras-go's rules;
// a bad one wraps ErrInvalid.
func parseRef(s string) (registry.Reference, error) {
	ref, err := registry.ParseReference(s)
	if err != nil {
		return registry.Reference{}, fmt.Errorf("reference %q: %w: want REGISTRY/REPOSITORY[:TAG|@DIGEST] (%v)", s, errdefs.ErrInvalid, err)
	}
	return ref, nil
}

// repository returns an oras-go repository for ref with this client's
// transport, credentials and limits.
func (c *Client) repository(ref registry.Reference) *remote.Repository {
	return &remote.Repository{
		Client: &auth.Client{
			Client:     c.http,
			Credential: credentials.Credential(c.creds),
			Cache:      c.cache,
			Header:     http.Header{"User-Agent": {"gpmd"}},
		},
		Reference:        ref,
		PlainHTTP:        c.opts.PlainHTTP || isLoopback(ref.Registry),
		MaxMetadataBytes: c.opts.MaxManifestSize,
		// Do not push the referrers tag schema or consult it: GPMD pushes
		// no subjects.
		SkipReferrersGC: true,
	}
}

// isLoopback reports whether the registry host (host or host:port) is a
// loopback name or address, the only hosts reached over plain HTTP by
// default.
func isLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}
