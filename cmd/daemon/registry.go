package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/oci"
	"github.com/ghost-network/gpmd/pullthrough"
)

// openLayer puts the pull-through layer (and the registry client) in front
// of the store: the one view of the modules that GMP and the control API
// share. An unreadable --registry-config stops the start here, before any
// port opens (check has refused a bad --registry already).
func (d *daemon) openLayer() error {
	cfg := d.cfg
	l, err := pullthrough.New(d.store, pullthrough.Options{
		Upstream: cfg.Registry,
		Client: oci.Options{
			CredentialsConfig:     cfg.RegistryConfig,
			DialTimeout:           cfg.RegistryDialTimeout,
			ResponseHeaderTimeout: cfg.RegistryResponseTimeout,
			TagCacheTTL:           cfg.RegistryTagCacheTTL,
			MaxLayerSize:          cfg.MaxModuleSize,
		},
		Logger: d.log.With("component", "registry"),
	})
	if err != nil {
		return fmt.Errorf("%w: --registry-config: %v", conf.ErrConfig, err)
	}
	d.layer = l
	d.onClose(l.Close)
	return nil
}

// registryAPI serves the control API's registry endpoints from the layer.
type registryAPI struct{ l *pullthrough.Layer }

var _ control.Registry = registryAPI{}

func (a registryAPI) Push(ctx context.Context, ref index.Ref, req api.PushRequest, progress func(done, total int64)) (api.PushResult, error) {
	res, rec, err := a.l.Push(ctx, ref, req.Target, req.PlainHTTP, progress)
	if err != nil {
		return api.PushResult{}, err
	}
	return api.PushResult{Reference: res.Reference, Tag: res.Tag, Manifest: api.Digest(res.Manifest), Module: control.RecordOf(rec)}, nil
}

func (a registryAPI) Pull(ctx context.Context, req api.PullRequest, progress func(done, total int64)) (api.PullResult, error) {
	res, rec, err := a.l.Pull(ctx, req.Source, req.Name, req.Version, req.PlainHTTP, progress)
	if err != nil {
		return api.PullResult{}, err
	}
	return api.PullResult{Reference: res.Reference, Manifest: api.Digest(res.Manifest), Module: control.RecordOf(rec)}, nil
}

func (a registryAPI) Tags(ctx context.Context, repository string, plainHTTP bool) ([]string, error) {
	tags, err := a.l.Tags(ctx, repository, plainHTTP)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.Name
	}
	return out, nil
}

func (a registryAPI) Status() *api.RegistryStatus {
	up := a.l.Upstream()
	if up == nil {
		return nil
	}
	st := up.Status()
	return &api.RegistryStatus{
		Registry:    st.Registry,
		LastError:   st.LastError,
		LastErrorAt: utcOrZero(st.LastErrorAt),
		LastSuccess: utcOrZero(st.LastSuccess),
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
