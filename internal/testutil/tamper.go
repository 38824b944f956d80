package testutil

import (
	"bytes"
	"net/http"
)

// TamperLarge wraps a response writer so that every write of more than
// 1000 bytes goes out with its last byte inverted, and smaller writes
// intact: in front of a registry it damages a module layer's bytes while
// manifests and configs stay valid, so that the layer's digest check is
// what must catch it.
func TamperLarge(w http.ResponseWriter) http.ResponseWriter { return &tamperLarge{w} }

type tamperLarge struct{ http.ResponseWriter }

func (f *tamperLarge) Write(p []byte) (int, error) {
	if len(p) > 1000 {
		q := bytes.Clone(p)
		q[len(q)-1] ^= 0xff
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}
