package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
	"github.com/opencontainers/go-digest"
)

// Operations is what the operations endpoints (verify, gc, backup) need of
// the module repository (*repo.Repo satisfies it).
type Operations interface {
	Verify(ctx context.Context) (repo.VerifyReport, error)
	GC(ctx context.Context, dryRun bool) (repo.GCReport, error)
	WriteBackup(ctx context.Context, w io.Writer) (repo.BackupReport, error)
}

// Headers of a backup stream (GET /v1/backup), sent as trailers: the counts
// are known only once the stream is written.
const (
	TrailerBackupVersions = "Gpmd-Backup-Versions"
	TrailerBackupBlobs    = "Gpmd-Backup-Blobs"
	TrailerBackupBytes    = "Gpmd-Backup-Bytes"
)

// registerOps adds the operations endpoints when the server has Operations.
func (s *Server) registerOps() {
	if s.cfg.Ops == nil {
		return
	}
	s.Handle("POST /v1/verify", s.postVerify)
	s.Handle("POST /v1/gc", s.postGC)
	s.Handle("GET /v1/backup", s.getBackup)
}

// postVerify re-hashes every blob while uploads and fetches go on. The
// answer is 200 with the report whether or not it found problems: finding
// them is the request succeeding.
func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.cfg.Ops.Verify(r.Context())
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	s.cfg.Observer.Verified(len(rep.Problems), s.cfg.Now())
	if rep.Problems == nil {
		rep.Problems = []repo.Problem{}
	}
	if rep.Garbage == nil {
		rep.Garbage = []repo.Blob{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// postGC removes (dry_run=true: lists) unnamed blobs and old leftovers.
func (s *Server) postGC(w http.ResponseWriter, r *http.Request) error {
	dry := false
	if v := r.URL.Query().Get("dry_run"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%w: dry_run=%q is not true or false", errdefs.ErrInvalid, v)
		}
		dry = b
	}
	rep, err := s.cfg.Ops.GC(r.Context(), dry)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	if !dry {
		s.cfg.Observer.Collected(len(rep.Removed), rep.Bytes, s.cfg.Now())
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// getBackup streams a tar of one index snapshot, its blobs and the mirror.
// A failure once bytes went out cuts the connection, so that the client
// never takes a truncated stream for a whole one.
func (s *Server) getBackup(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "application/x-tar")
	h.Set("Trailer", TrailerBackupVersions+", "+TrailerBackupBlobs+", "+TrailerBackupBytes)
	// A client that stops reading is cut after StallTimeout, as a
	// download is: the snapshot it holds is not kept for ever.
	send := s.stallWriter(w)
	defer send.done()
	rep, err := s.cfg.Ops.WriteBackup(r.Context(), send)
	if err != nil {
		return s.abort(w, fmt.Errorf("backup: %w", err))
	}
	h.Set(TrailerBackupVersions, strconv.Itoa(rep.Versions))
	h.Set(TrailerBackupBlobs, strconv.Itoa(rep.Blobs))
	h.Set(TrailerBackupBytes, strconv.FormatInt(rep.Bytes, 10))
	return nil
}

// Verify is POST /v1/verify.
func (c *Client) Verify(ctx context.Context) (repo.VerifyReport, error) {
	var rep repo.VerifyReport
	err := c.postJSON(ctx, "/v1/verify", &rep)
	return rep, err
}

// GC is POST /v1/gc?dry_run=….
func (c *Client) GC(ctx context.Context, dryRun bool) (repo.GCReport, error) {
	var rep repo.GCReport
	err := c.postJSON(ctx, "/v1/gc?dry_run="+strconv.FormatBool(dryRun), &rep)
	return rep, err
}

func (c *Client) postJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodPost, path, nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeBody(resp, v)
}

// Backup is GET /v1/backup: it hands the tar stream to extract (which
// reads it to the end) and returns extract's result. A stream the daemon
// cut short fails extract.
func (c *Client) Backup(ctx context.Context, extract func(io.Reader) error) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/backup", nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := extract(resp.Body); err != nil {
		return err
	}
	// Read to the end, so that a cut after the last tar block still shows.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("backup stream from gpmd at %s broke off: %w", c.addr, err)
	}
	return nil
}

// UploadDigest sends a module version whose bytes must hash to expected:
// the daemon refuses (errdefs.ErrCorrupt) and stores nothing otherwise.
// size is as for Upload.
func (c *Client) UploadDigest(ctx context.Context, name, version string, body io.Reader, size int64, expected digest.Digest) (index.Record, error) {
	hdr := http.Header{}
	if expected != "" {
		hdr.Set(HeaderDigest, expected.String())
	}
	return c.upload(ctx, name, version, body, size, hdr)
}

// Uploader is a migrations.Uploader that uploads through a Client: an
// import of an early store goes through the daemon like any upload.
type Uploader struct{ C *Client }

// Upload uploads body (of unknown size) as ref, refused unless it hashes
// to expected. The daemon parses the name and version again: it is the
// boundary of its own process.
func (u Uploader) Upload(ctx context.Context, ref index.Ref, body io.Reader, expected digest.Digest) (index.Record, error) {
	return u.C.UploadDigest(ctx, ref.Name().String(), ref.Version().Original(), body, -1, expected)
}
