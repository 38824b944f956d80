package fleettest

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket opens the key-value bucket name as a plain NATS client of url
// (a test playing the operator or a misbehaving device), creating it from
// create when create is not nil. The connection closes at cleanup.
func Bucket(t testing.TB, url, name string, create *jetstream.KeyValueConfig) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	var kv jetstream.KeyValue
	if create != nil {
		kv, err = js.CreateKeyValue(t.Context(), *create)
	} else {
		kv, err = js.KeyValue(t.Context(), name)
	}
	if err != nil {
		t.Fatalf("bucket %s: %v", name, err)
	}
	return kv
}
