package client

import (
	"context"
	"fmt"
	"io"
	"net/textproto"
	"strconv"

	"github.com/ghost-network/gpmd/cmd/control/api"
)

// VerifyDeep is POST /v1/verify?deep=true: Verify, and every module
// validated in full with wazero.
func (c *Client) VerifyDeep(ctx context.Context) (api.VerifyReport, error) {
	var rep api.VerifyReport
	err := c.postJSON(ctx, "/v1/verify?deep=true", &rep)
	return rep, err
}

// Verify is POST /v1/verify.
func (c *Client) Verify(ctx context.Context) (api.VerifyReport, error) {
	var rep api.VerifyReport
	err := c.postJSON(ctx, "/v1/verify", &rep)
	return rep, err
}

// GC is POST /v1/gc?dry_run=….
func (c *Client) GC(ctx context.Context, dryRun bool) (api.GCReport, error) {
	var rep api.GCReport
	err := c.postJSON(ctx, "/v1/gc?dry_run="+strconv.FormatBool(dryRun), &rep)
	return rep, err
}

func (c *Client) postJSON(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, "POST", path, nil, nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return c.decodeBody(resp, v)
}

// Backup is GET /v1/backup: it hands the tar stream to extract (which
// reads it to the end) and returns extract's result. A stream the daemon
// cut short fails extract.
func (c *Client) Backup(ctx context.Context, extract func(io.Reader) error) error {
	resp, err := c.do(ctx, "GET", "/v1/backup", nil, nil, 0)
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
func (c *Client) UploadDigest(ctx context.Context, name, version string, body io.Reader, size int64, expected api.Digest) (api.Record, error) {
	hdr := textproto.MIMEHeader{}
	if expected != "" {
		hdr.Set(api.HeaderDigest, expected.String())
	}
	return c.upload(ctx, name, version, body, size, hdr, false)
}
