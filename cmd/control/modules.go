package control

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
	"github.com/ghost-network/gpmd/wasm"
	"github.com/opencontainers/go-digest"
)

// copyChunk is the size of one read of a module download.
const copyChunk = 64 << 10

// drainSlack is what the server reads, at most, of an upload's body once
// it is over the size limit: the repository stopped at the first byte
// over, and reading on (the old drain read the limit again) would let a
// client make the daemon read far past the limit. The connection is
// closed after the answer.
const drainSlack = 1 << 20

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.cfg.Modules.Stats(r.Context())
	if err != nil {
		return fmt.Errorf("counting modules: %w", err)
	}
	out := api.Status{
		Info:          s.cfg.Info,
		MaxModuleSize: s.cfg.Modules.MaxModuleSize(),
		Running:       true,
		UptimeSeconds: s.cfg.Now().Sub(s.cfg.Info.Started).Seconds(),
		Modules:       st.Modules,
		Versions:      st.Versions,
		Blobs:         st.Blobs,
		BlobBytes:     st.Bytes,
		Registry:      s.registryStatus(),
	}
	if s.cfg.Nodes != nil {
		out.Nodes = len(s.cfg.Nodes.Nodes())
		out.GMPConnections = s.cfg.Nodes.ConnCount()
	}
	out.Fleet = s.fleetStatus()
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getNodes(w http.ResponseWriter, r *http.Request) error {
	out := api.NodeList{Nodes: []wire.NodeInfo{}}
	if s.cfg.Nodes != nil {
		if nodes := s.cfg.Nodes.Nodes(); nodes != nil {
			out.Nodes = nodes
		}
		out.Connections = s.cfg.Nodes.ConnCount()
	}
	out.Fleet, out.Device = s.fleetNodes()
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listModules(w http.ResponseWriter, r *http.Request) error {
	mods, err := s.listed(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.ModuleList{Modules: mods})
	return nil
}

func (s *Server) getModule(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	mods, err := s.listed(r.Context(), name)
	if err != nil {
		return err
	}
	if len(mods) == 0 {
		return fmt.Errorf("no module named %q: %w", name, errdefs.ErrNotFound)
	}
	writeJSON(w, http.StatusOK, mods[0])
	return nil
}

// listed lists name ("" for all) with the summary of each version's record.
// The name is parsed here, the one check on this path.
func (s *Server) listed(ctx context.Context, name string) ([]api.ListedModule, error) {
	var n index.Name
	if name != "" {
		var err error
		if n, err = index.ParseName(name); err != nil {
			return nil, err
		}
	}
	mods, err := s.cfg.Modules.List(ctx, n)
	if err != nil {
		return nil, err
	}
	sums, err := s.cfg.Modules.InfoSummaries(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]api.ListedModule, 0, len(mods))
	for _, m := range mods {
		lm := api.ListedModule{Name: m.Name, Versions: make([]api.ListedVersion, 0, len(m.Versions))}
		for _, v := range m.Versions {
			sum := sums[v.Name+"@"+v.Version]
			lm.Versions = append(lm.Versions, api.ListedVersion{Record: RecordOf(v), Kind: sum.Kind, Imports: sum.Imports, Exports: sum.Exports, InvalidModule: sum.Refused})
		}
		out = append(out, lm)
	}
	return out, nil
}

// getInfo serves what the parse of a version's bytes recorded.
func (s *Server) getInfo(w http.ResponseWriter, r *http.Request) error {
	q, err := pathQuery(r)
	if err != nil {
		return err
	}
	rec, info, err := s.cfg.Modules.Info(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.ModuleInfo{Record: RecordOf(rec), Info: info})
	return nil
}

// postCheck validates a version in full with wazero. A verdict about the
// module (valid, broken, not checkable) is a 200: the check ran.
func (s *Server) postCheck(w http.ResponseWriter, r *http.Request) error {
	q, err := pathQuery(r)
	if err != nil {
		return err
	}
	rec, err := s.cfg.Modules.Check(r.Context(), q)
	res := api.CheckResult{Record: RecordOf(rec), Valid: err == nil}
	switch {
	case err == nil:
	case errors.Is(err, errors.ErrUnsupported):
		res.Unsupported = repo.ProblemMessage(err)
	case errors.Is(err, wasm.ErrInvalidModule) && rec.Name != "":
		res.Problem = repo.ProblemMessage(err)
	default:
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// pathQuery parses the request's {name} and {version} (a version, a
// constraint, "latest") into the query the repository takes: the
// boundary, where they are checked once.
func pathQuery(r *http.Request) (index.Query, error) {
	return index.ParseQuery(r.PathValue("name"), r.PathValue("version"))
}

func (s *Server) resolveVersion(w http.ResponseWriter, r *http.Request) error {
	q, err := pathQuery(r)
	if err != nil {
		return err
	}
	rec, err := s.cfg.Modules.Resolve(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// getContent streams a module's bytes. The record goes in the headers
// (Content-Length is its size) so the body is the bytes alone. The latest
// chunk read is held back until the next read succeeds: the verifying
// reader reports a digest mismatch on the read that reaches the end, and by
// then the client must still be short of the announced length, so that it
// sees a broken transfer and never a complete wrong file.
func (s *Server) getContent(w http.ResponseWriter, r *http.Request) error {
	q, err := pathQuery(r)
	if err != nil {
		return err
	}
	rec, rc, err := s.cfg.Modules.Get(r.Context(), q)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	setRecordHeaders(h, rec)
	h.Set("Content-Type", "application/wasm")
	h.Set("Content-Length", strconv.FormatInt(rec.Size, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}

	send := s.stallWriter(w)
	defer send.done()
	bufs := [2][]byte{make([]byte, copyChunk), make([]byte, copyChunk)}
	var held []byte // read, not yet sent
	var total int64
	cur := 0
	for {
		n, rerr := rc.Read(bufs[cur])
		if n > 0 {
			if held != nil {
				if _, err := send.Write(held); err != nil {
					return fmt.Errorf("sending %s@%s: %w", rec.Name, rec.Version, err)
				}
			}
			held = bufs[cur][:n]
			total += int64(n)
			cur = 1 - cur
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil && errors.Is(rerr, errdefs.ErrCorrupt) {
			// Every byte may have been read: a byte count would read
			// like a success. The bytes are wrong; none is complete.
			return s.abort(w, fmt.Errorf("%s@%s cannot be served: %w", rec.Name, rec.Version, rerr))
		}
		if rerr != nil {
			return s.abort(w, fmt.Errorf("reading %s@%s after %d of %d bytes: %w", rec.Name, rec.Version, total, rec.Size, rerr))
		}
		if total > rec.Size {
			break
		}
	}
	if total != rec.Size {
		return s.abort(w, fmt.Errorf("%w: %s@%s: %d bytes stored, the index says %d", errdefs.ErrModuleCorrupt, rec.Name, rec.Version, total, rec.Size))
	}
	if held != nil {
		if _, err := send.Write(held); err != nil {
			return fmt.Errorf("sending %s@%s: %w", rec.Name, rec.Version, err)
		}
	}
	s.cfg.Observer.Downloaded(total)
	return nil
}

// abort ends a download that cannot be completed: as a JSON error when no
// byte has been sent yet, else by cutting the connection (net/http closes
// it on http.ErrAbortHandler), since a status line already went out.
func (s *Server) abort(w http.ResponseWriter, err error) error {
	rec, _ := w.(*recorder)
	if rec == nil || !rec.wroteHeader {
		return err
	}
	rec.err = err
	panic(http.ErrAbortHandler)
}

func setRecordHeaders(h http.Header, rec index.Record) {
	h.Set(api.HeaderName, rec.Name)
	h.Set(api.HeaderVersion, rec.Version)
	h.Set(api.HeaderDigest, rec.Digest.String())
	h.Set(api.HeaderCreated, rec.Created.UTC().Format(time.RFC3339Nano))
}

// putVersion uploads a module version: the body streams into the
// repository. The name, version, claimed digest and announced length are
// checked before a byte of the body is read, so a client that sent
// "Expect: 100-continue" does not send the body at all.
func (s *Server) putVersion(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("name"), r.PathValue("version")
	// The boundary: name and version are parsed here, once, and go down
	// typed.
	ref, err := index.ParseRef(name, version)
	if err != nil {
		return fmt.Errorf("upload %s@%s: %w", name, version, err)
	}
	var expected digest.Digest
	if v := r.Header.Get(api.HeaderDigest); v != "" {
		d, err := digest.Parse(v)
		if err != nil || d.Algorithm() != digest.SHA256 {
			return fmt.Errorf("%w: header %s: %q is not sha256:<64 hex>", errdefs.ErrInvalid, api.HeaderDigest, v)
		}
		expected = d
	}
	max := s.cfg.Modules.MaxModuleSize()
	if max > 0 && r.ContentLength > max {
		return fmt.Errorf("upload %s@%s: %w: %d bytes, the limit is %d bytes", name, version, errdefs.ErrTooLarge, r.ContentLength, max)
	}
	if r.ContentLength == 0 {
		return fmt.Errorf("upload %s@%s: %w: no bytes were sent", name, version, errdefs.ErrEmpty)
	}
	check, err := boolParam(r, "check")
	if err != nil {
		return err
	}
	release, err := s.acquireUpload()
	if err != nil {
		w.Header().Set("Connection", "close")
		return fmt.Errorf("upload %s@%s: %w", name, version, err)
	}
	defer release()
	stall := s.stallReader(w, r.Body)
	defer stall.done()
	body := &clientBody{ReadCloser: io.NopCloser(stall)}
	start := s.cfg.Now()
	rec, err := s.cfg.Modules.UploadWith(r.Context(), ref, body, repo.UploadOptions{Expected: expected, Check: check})
	if err != nil {
		// The client may still be sending, and reads this answer only if
		// the rest of its body is read (closing with unread bytes resets
		// the connection, and the answer with it). A body within the
		// limit is read to its end, as a good upload would have been
		// (and no slower than StallTimeout allows); past the limit only
		// drainSlack more. Then the connection closes.
		w.Header().Set("Connection", "close")
		switch {
		case errors.Is(err, errStalled):
		case errors.Is(err, errdefs.ErrTooLarge):
			io.CopyN(io.Discard, body, drainSlack)
		default:
			io.CopyN(io.Discard, body, max)
		}
		if !errors.Is(err, errStalled) {
			err = canceledUpload(r, body.err, name, version, err)
		}
		s.cfg.Observer.UploadFailed(errorClass(err), s.cfg.Now().Sub(start))
		return err
	}
	s.answerUpload(w, rec, start)
	return nil
}

// answerUpload counts a stored upload (begun at start) and answers its
// record, for both upload endpoints.
func (s *Server) answerUpload(w http.ResponseWriter, rec index.Record, start time.Time) {
	s.cfg.Observer.Uploaded(rec.Size, s.cfg.Now().Sub(start))
	setRecordHeaders(w.Header(), rec)
	writeJSON(w, http.StatusOK, rec)
	// The upload is durable and its answer whole: send it now rather
	// than after the request's log line and the handler's return, which
	// the client has no need to wait for.
	_ = http.NewResponseController(w).Flush()
}

func (s *Server) deleteVersion(w http.ResponseWriter, r *http.Request) error {
	// ?forget=true breaks the version's immutability on purpose (see
	// repo.RemoveOptions.Forget).
	forget, err := strconv.ParseBool(cmp.Or(r.URL.Query().Get("forget"), "false"))
	if err != nil {
		return fmt.Errorf("%w: forget=%q is not true or false", errdefs.ErrInvalid, r.URL.Query().Get("forget"))
	}
	// The boundary: name and version are parsed here, once, with the
	// messages the repository gave when it checked them.
	name, version := r.PathValue("name"), r.PathValue("version")
	n, err := index.ParseName(name)
	if err != nil {
		return fmt.Errorf("remove %s@%s: %w", name, version, err)
	}
	v, err := index.ParseVersion(version)
	if err != nil {
		return fmt.Errorf("remove %s@%s: module %s: %w", name, version, name, err)
	}
	rec, err := s.cfg.Modules.RemoveWith(r.Context(), index.NewRef(n, v), repo.RemoveOptions{Forget: forget})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}
