package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
)

// Registry is what the registry endpoints need of the daemon: pushes and
// pulls carried out against OCI registries with the daemon's credentials,
// tag lists, and the state of the upstream (--registry). Progress, when not
// nil, is told the bytes moved so far; it is called often, from the
// goroutine doing the transfer.
type Registry interface {
	// Push pushes ref (req's Name and Version as the handler parsed them,
	// index.ParseRef) to req.Target.
	Push(ctx context.Context, ref index.Ref, req api.PushRequest, progress func(done, total int64)) (api.PushResult, error)
	Pull(ctx context.Context, req api.PullRequest, progress func(done, total int64)) (api.PullResult, error)
	Tags(ctx context.Context, repository string, plainHTTP bool) ([]string, error)
	// Status is the upstream's state; nil when the daemon has none.
	Status() *api.RegistryStatus
}

// progressInterval is the least time between two progress lines.
const progressInterval = 100 * time.Millisecond

// registerRegistry adds the registry endpoints when the server has a
// Registry.
func (s *Server) registerRegistry() {
	if s.cfg.Registry == nil {
		return
	}
	s.Handle("POST /v1/registry/push", s.postPush)
	s.Handle("POST /v1/registry/pull", s.postPull)
	s.Handle("GET /v1/registry/tags", s.getTags)
}

// registryStatus is the upstream for GET /v1/status, nil without one.
func (s *Server) registryStatus() *api.RegistryStatus {
	if s.cfg.Registry == nil {
		return nil
	}
	return s.cfg.Registry.Status()
}

// maxRegistryRequest bounds the JSON body of a push or pull request.
const maxRegistryRequest = 64 << 10

func decodeRequest(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRegistryRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", errdefs.ErrInvalid, err)
	}
	return nil
}

func (s *Server) postPush(w http.ResponseWriter, r *http.Request) error {
	var req api.PushRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	ref, err := index.ParseRef(req.Name, req.Version)
	if err != nil {
		return fmt.Errorf("push %s@%s: %w", req.Name, req.Version, err)
	}
	if req.Target == "" {
		return fmt.Errorf("push %s@%s: %w: no target: give REGISTRY/REPOSITORY[:TAG]", req.Name, req.Version, errdefs.ErrInvalid)
	}
	ps := s.newProgressStream(w, r)
	res, err := s.cfg.Registry.Push(r.Context(), ref, req, ps.report)
	return ps.finish(res, registryError(err))
}

func (s *Server) postPull(w http.ResponseWriter, r *http.Request) error {
	var req api.PullRequest
	if err := decodeRequest(r, &req); err != nil {
		return err
	}
	if req.Source == "" {
		return fmt.Errorf("pull: %w: no source: give REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@DIGEST", errdefs.ErrInvalid)
	}
	ps := s.newProgressStream(w, r)
	res, err := s.cfg.Registry.Pull(r.Context(), req, ps.report)
	return ps.finish(res, registryError(err))
}

func (s *Server) getTags(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	repository := q.Get("repository")
	if repository == "" {
		return fmt.Errorf("tags: %w: give ?repository=REGISTRY/REPOSITORY", errdefs.ErrInvalid)
	}
	plain, err := parseBoolParam(q, "plain_http")
	if err != nil {
		return err
	}
	tags, err := s.cfg.Registry.Tags(r.Context(), repository, plain)
	if err != nil {
		return registryError(err)
	}
	if tags == nil {
		tags = []string{}
	}
	writeJSON(w, http.StatusOK, api.TagList{Repository: repository, Tags: tags})
	return nil
}

func parseBoolParam(q url.Values, name string) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not true or false", errdefs.ErrInvalid, name, v)
	}
	return b, nil
}

// registryError answers a registry's refusal of the daemon's credentials
// with 403, not 401: the caller's token was accepted, and a 401 would tell
// it (and its WWW-Authenticate header) to send another. The code is still
// unauthorized, so the class (and the CLI's exit status 6) is the same.
func registryError(err error) error {
	if err != nil && errors.Is(err, errdefs.ErrUnauthorized) {
		return &statusError{status: http.StatusForbidden, code: CodeUnauthorized, message: err.Error()}
	}
	return err
}

// progressStream answers a push or pull. Without ?progress=true it is a
// plain JSON answer. With it, the first progress report commits a 200
// stream of ProgressEvent lines, flushed at most every progressInterval,
// ended by the result or the error; an error before any byte moved (a bad
// reference, 404, 401) is still an ordinary error response.
type progressStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	on      bool
	started bool
	last    time.Time
	now     func() time.Time
	err     error // a failed write: the client went away
}

func (s *Server) newProgressStream(w http.ResponseWriter, r *http.Request) *progressStream {
	on, _ := strconv.ParseBool(r.URL.Query().Get("progress"))
	return &progressStream{w: w, rc: http.NewResponseController(w), on: on, now: s.cfg.Now}
}

func (p *progressStream) report(done, total int64) {
	if !p.on || p.err != nil {
		return
	}
	t := p.now()
	if p.started && t.Sub(p.last) < progressInterval && done != total {
		return
	}
	if !p.started {
		p.started = true
		p.w.Header().Set("Content-Type", api.ContentTypeProgress)
		p.w.WriteHeader(http.StatusOK)
	}
	p.last = t
	p.line(api.ProgressEvent{Bytes: done, Total: total})
}

func (p *progressStream) line(ev api.ProgressEvent) {
	b, _ := json.Marshal(ev)
	if _, err := p.w.Write(append(b, '\n')); err != nil {
		p.err = err
		return
	}
	p.rc.Flush()
}

// finish answers result or err: as an ordinary response when no progress
// line went out, else as the stream's last line (the request log records
// the error either way).
func (p *progressStream) finish(result any, err error) error {
	if !p.started {
		if err != nil {
			return err
		}
		writeJSON(p.w, http.StatusOK, result)
		return nil
	}
	if err != nil {
		_, code := statusOf(err)
		var se *statusError
		if errors.As(err, &se) {
			code = se.code
		}
		p.line(api.ProgressEvent{Error: code, Message: err.Error()})
		if rec, _ := p.w.(*recorder); rec != nil {
			rec.err = err
		}
		return nil
	}
	b, merr := json.Marshal(result)
	if merr != nil {
		return merr
	}
	p.line(api.ProgressEvent{Result: b})
	return nil
}
