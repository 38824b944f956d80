package fleetinfo

import "testing"

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "",
		"nats://127.0.0.1:4222":               "nats://127.0.0.1:4222",
		"nats://kitchen:secret@10.0.0.1:4222": "nats://kitchen:xxxxx@10.0.0.1:4222",
		"nats://s3cr3t-token@10.0.0.1:4222":   "nats://xxxxx@10.0.0.1:4222",
		"nats://a:b@h1:1, tls://h2:2":         "nats://a:xxxxx@h1:1,tls://h2:2",
		"nats://a:b@h1:1,nats://%zz:pw@h2:2":  "nats://a:xxxxx@h1:1,xxxxx",
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
