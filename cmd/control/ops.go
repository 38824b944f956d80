package control

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/repo"
)

// Operations is what the operations endpoints (verify, gc, backup) need of
// the module repository (*repo.Repo satisfies it).
type Operations interface {
	VerifyWith(ctx context.Context, opts repo.VerifyOptions) (repo.VerifyReport, error)
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
//
// deep=true also validates every module in full with wazero.
func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) error {
	deep, err := boolParam(r, "deep")
	if err != nil {
		return err
	}
	rep, err := s.cfg.Ops.VerifyWith(r.Context(), repo.VerifyOptions{Deep: deep})
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
	dry, err := boolParam(r, "dry_run")
	if err != nil {
		return err
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

// boolParam reads the query parameter name: absent is false; anything but
// a boolean is errdefs.ErrInvalid.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: %s=%q is not true or false", errdefs.ErrInvalid, name, v)
	}
	return b, nil
}
