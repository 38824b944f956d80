package fleetinfo

import (
	"net/url"
	"strings"
)

// RedactURLs returns a comma list of NATS URLs with every password (and a
// token given as the user part) replaced by "xxxxx", for logs and status:
// nats://kitchen:secret@host:4222 becomes nats://kitchen:xxxxx@host:4222.
// An element that does not parse is replaced whole, since it may hold a
// secret that could not be found.
func RedactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "@") {
			parts[i] = p
			continue
		}
		u, err := url.Parse(p)
		if err != nil || u.User == nil {
			parts[i] = "xxxxx"
			continue
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		} else {
			u.User = url.User("xxxxx") // nats://TOKEN@host: the user part is the token
		}
		parts[i] = u.String()
	}
	return strings.Join(parts, ",")
}
