package control

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guardOrigin refuses, before the token is even looked at, a request whose
// Host is not one this server answers to, or that carries an Origin other
// than the server's own: a web page in the user's browser can send simple
// cross-origin POSTs to 127.0.0.1 (no rebinding needed) and, after DNS
// rebinding, any request under its own host name. Neither carries a Host
// and Origin of a loopback name on this port; the CLI never sends Origin.
func (s *Server) guardOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if p, ok := PeerOf(r.Context()); ok {
			err = s.guardSocket(r, p)
		} else if !s.hostAllowed(r.Host) {
			err = &forbiddenError{ErrForbiddenHost, "refusing Host " + quoteHeader(r.Host) + ": the control API answers only to a loopback host on its own port (DNS rebinding guard)"}
		} else if o := r.Header.Values("Origin"); len(o) > 0 && (len(o) > 1 || !s.originAllowed(o[0])) {
			err = &forbiddenError{ErrForbiddenOrigin, "refusing Origin " + quoteHeader(strings.Join(o, ", ")) + ": the control API takes no cross-origin requests"}
		}
		if err != nil {
			if rec, _ := w.(*recorder); rec != nil {
				rec.err = err
			}
			w.Header().Set("Connection", "close")
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether hostport (a Host header) names this server:
// a loopback IP or "localhost", on the port the server listens on (any port
// when Config.Addr is empty). With a token and a non-loopback listening
// address, the listening host is accepted too, and any IP literal when that
// host is unspecified (0.0.0.0, ::): a rebinding page cannot know the token,
// and names (which rebinding needs) stay refused.
func (s *Server) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		// No port: only the default port of http, which is then ours.
		host, port = strings.Trim(hostport, "[]"), "80"
	}
	wantHost, wantPort, _ := net.SplitHostPort(s.cfg.Addr)
	if s.cfg.Addr != "" && port != wantPort {
		return false
	}
	if isLoopbackHost(host) {
		return true
	}
	if s.cfg.Token == "" || s.cfg.Addr == "" || isLoopbackHost(wantHost) {
		return false
	}
	if strings.EqualFold(host, wantHost) {
		return true
	}
	wantIP := net.ParseIP(wantHost)
	return (wantHost == "" || wantIP != nil && wantIP.IsUnspecified()) && net.ParseIP(host) != nil
}

// originAllowed reports whether an Origin header is this server's own
// origin: http, with a host hostAllowed takes. "null" (sandboxed pages,
// file: URLs) and any other origin are refused.
func (s *Server) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.Path != "" || u.User != nil {
		return false
	}
	return s.hostAllowed(u.Host)
}

// isLoopbackHost: "localhost" or an IP in 127.0.0.0/8 or ::1.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// quoteHeader quotes a header value for a message, cut to a readable
// length.
func quoteHeader(v string) string {
	const max = 100
	if len(v) > max {
		v = v[:max] + "…"
	}
	return "\"" + strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, v), "?") + "\""
}

// forbiddenError is a 403 of the origin guard: class says which.
type forbiddenError struct {
	class error
	msg   string
}

func (e *forbiddenError) Error() string { return e.msg }
func (e *forbiddenError) Unwrap() error { return e.class }
