package control

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// CodeCanceled is the code of an upload the client gave up on (Ctrl-C):
// nobody reads the answer, but the request log and the metrics tell it
// apart from a failure of the daemon.
const CodeCanceled = "canceled"

// statusClientClosed is the status logged for a request whose client went
// away (nginx's 499: there is no standard one, and nobody receives it).
const statusClientClosed = 499

// clientBody remembers whether reading the request body failed: the
// client closed the connection or reset it mid-upload.
type clientBody struct {
	io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// canceledUpload turns an upload's failure into a cancel when the client
// is the cause: its body broke off, or its request context ended. Any
// other failure is returned as it is.
func canceledUpload(r *http.Request, body *clientBody, name, version string, err error) error {
	if body.err == nil && r.Context().Err() == nil {
		return err
	}
	cause := body.err
	if cause == nil {
		cause = r.Context().Err()
	}
	return &statusError{statusClientClosed, CodeCanceled, fmt.Sprintf("upload %s@%s cancelled by the client (%v)", name, version, cause)}
}

// isCanceled reports whether err is a request the client gave up on.
func isCanceled(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == CodeCanceled
}
