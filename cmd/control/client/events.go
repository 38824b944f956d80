package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/errdefs"
)

// Events follows GET /v1/events for topics (events.ParseTopicList; ""
// for all) in scope (api.ScopeFleet, or "" for this device) until ctx
// ends or the stream does, calling fn for each message. lastID, when not
// 0, resumes after that seq (Last-Event-ID). It returns fn's error, ctx's,
// or why the stream ended.
func (c *Client) Events(ctx context.Context, topics, scope string, lastID uint64, fn func(api.StreamMessage) error) error {
	var hdr textproto.MIMEHeader
	if lastID != 0 {
		hdr = textproto.MIMEHeader{"Last-Event-Id": {strconv.FormatUint(lastID, 10)}}
	}
	q := url.Values{}
	if topics != "" {
		q.Set("topics", topics)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	path := "/v1/events"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.do(ctx, "GET", path, nil, hdr, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	err = readSSE(resp.Body, func(name string, data []byte) error {
		var m api.StreamMessage
		switch name {
		case "":
			if err := json.Unmarshal(data, &m.Event); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
		case api.StreamSubscribed, api.StreamResync:
			m.Kind = name
			if err := json.Unmarshal(data, &m.Start); err != nil {
				return fmt.Errorf("event stream: %w", err)
			}
		default:
			return nil // a kind this client does not know
		}
		return fn(m)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = fmt.Errorf("%w: the daemon ended the event stream", errdefs.ErrUnavailable)
	}
	return err
}

// readSSE reads Server-Sent Events (the subset the stream writes: event,
// id, data, comments) and calls fn for each complete message.
func readSSE(r io.Reader, fn func(name string, data []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		name string
		data []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data != nil {
				if err := fn(name, data); err != nil {
					return err
				}
			}
			name, data = "", nil
		case line[0] == ':':
		default:
			field, value, _ := strings.Cut(string(line), ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	return sc.Err()
}
