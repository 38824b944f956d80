package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
)

// RegistryPush asks the daemon to push name@version to target. progress,
// when not nil, receives the bytes sent so far.
func (c *Client) RegistryPush(ctx context.Context, req api.PushRequest, progress func(done, total int64)) (api.PushResult, error) {
	var res api.PushResult
	err := c.postProgress(ctx, "/v1/registry/push", req, progress, &res)
	return res, err
}

// RegistryPull asks the daemon to pull source into its store. progress,
// when not nil, receives the bytes received so far.
func (c *Client) RegistryPull(ctx context.Context, req api.PullRequest, progress func(done, total int64)) (api.PullResult, error) {
	var res api.PullResult
	err := c.postProgress(ctx, "/v1/registry/pull", req, progress, &res)
	return res, err
}

// RegistryTags lists the semver tags of repository (REGISTRY/REPOSITORY),
// asked by the daemon with its credentials.
func (c *Client) RegistryTags(ctx context.Context, repository string, plainHTTP bool) (api.TagList, error) {
	q := url.Values{"repository": {repository}}
	if plainHTTP {
		q.Set("plain_http", "true")
	}
	var tl api.TagList
	err := c.getJSON(ctx, "/v1/registry/tags?"+q.Encode(), &tl)
	return tl, err
}

// postProgress POSTs req as JSON and decodes the answer into out, reading a
// progress stream when progress is not nil.
func (c *Client) postProgress(ctx context.Context, path string, req any, progress func(done, total int64), out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if progress != nil {
		path += "?progress=true"
	}
	hdr := textproto.MIMEHeader{"Content-Type": {"application/json"}}
	resp, err := c.do(ctx, "POST", path, bytes.NewReader(body), hdr, int64(len(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), api.ContentTypeProgress) {
		return c.decodeBody(resp, out)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev api.ProgressEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("reading the progress of %s: %w", path, err)
		}
		switch {
		case ev.Error != "":
			return &api.APIError{Status: 200, Code: ev.Error, Message: ev.Message}
		case ev.Result != nil:
			return json.Unmarshal(ev.Result, out)
		case progress != nil:
			progress(ev.Bytes, ev.Total)
		}
	}
	if err := sc.Err(); err != nil {
		return c.transportError(err)
	}
	return fmt.Errorf("talking to gpmd at %s: %w: the progress stream of %s ended without a result", c.addr, errdefs.ErrUnavailable, path)
}
