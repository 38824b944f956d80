package gmp

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp/wire"
)

// The figures behind the hand-written codec (gmp/wire's package doc): the
// same stream of requests read, and the same replies written, by this
// package's codec and by encoding/json, each fully decoded into the values
// a handler uses.
//
//	go test -run XXX -bench 'Codec' -benchmem ./gmp/

// codecRequests is a mix of the requests a GVM sends, one per line.
var codecRequests = []byte(`{"type":0,"code":1,"id":1,"body":{"client":"gvm/0.4.1","versions":[1]}}
{"type":1,"code":1,"id":2,"body":{"name":"node-5651","id":"df0c35f5-bea5-4a60-bbe2-aad3e4954c8c","port":55695}}
{"type":1,"code":5,"id":3}
{"type":1,"code":7,"id":"c-4","body":{"name":"node-8399"}}
{"type":2,"code":1,"id":5,"body":{"name":"math","version":"^1.2"}}
{"type":0,"code":3,"id":6,"body":{}}
`)

const codecRequestCount = 6

// handDecode reads every request of stream as the server does: framing,
// envelope, and the body fields of REGISTER, CONNECT and MODULE_REQUEST.
func handDecode(stream []byte) (n int, err error) {
	d := NewDecoder(bytes.NewReader(stream), 0)
	var m [4][]byte
	for {
		msg, err := d.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		env, rerr := parseEnvelope(msg)
		if rerr != nil {
			return n, rerr
		}
		switch {
		case env.typ == wire.TypeNode && env.code == wire.CodeRegister:
			wire.LastMembers(env.body, registerKeys[:], m[:])
			if _, ok := wire.DecodeString(m[0]); !ok {
				return n, rerr
			}
			wire.DecodeString(m[1])
			wire.DecodeInt(m[2])
		case env.body != nil && env.typ != wire.TypeSession:
			stringField(env.body, "name", true)
			stringField(env.body, "version", false)
		}
		n++
	}
}

type jsonEnvelope struct {
	Type int             `json:"type"`
	Code int             `json:"code"`
	ID   json.RawMessage `json:"id"`
	Body json.RawMessage `json:"body"`
}

type jsonBody struct {
	Name         *string `json:"name"`
	ID           *string `json:"id"`
	Version      *string `json:"version"`
	Port         *int64  `json:"port"`
	Discoverable *bool   `json:"discoverable"`
	Client       *string `json:"client"`
	Versions     []int   `json:"versions"`
}

// jsonDecode reads the same stream with encoding/json: a Decoder for the
// framing, the envelope into a struct, the body into another.
func jsonDecode(stream []byte) (n int, err error) {
	d := json.NewDecoder(bytes.NewReader(stream))
	for {
		var env jsonEnvelope
		if err := d.Decode(&env); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		if len(env.Body) > 0 {
			var b jsonBody
			if err := json.Unmarshal(env.Body, &b); err != nil {
				return n, err
			}
		}
		n++
	}
}

// BenchmarkCodecDecode alternates the two decoders on the same stream in
// the same run (the machine is shared, so only a ratio measured side by
// side means anything) and reports each one's requests per second, its
// allocations per request, and speedup = hand / encoding/json.
func BenchmarkCodecDecode(b *testing.B) {
	stream := bytes.Repeat(codecRequests, 100)
	const perRun = 100 * codecRequestCount
	var hand, std time.Duration
	var handAllocs, stdAllocs uint64
	var ms runtime.MemStats
	for b.Loop() {
		for _, side := range []struct {
			decode func([]byte) (int, error)
			took   *time.Duration
			allocs *uint64
		}{{handDecode, &hand, &handAllocs}, {jsonDecode, &std, &stdAllocs}} {
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			t0 := time.Now()
			n, err := side.decode(stream)
			*side.took += time.Since(t0)
			runtime.ReadMemStats(&ms)
			*side.allocs += ms.Mallocs - before
			if err != nil || n != perRun {
				b.Fatalf("%d requests, %v", n, err)
			}
		}
	}
	reqs := float64(b.N * perRun)
	b.ReportMetric(reqs/hand.Seconds(), "hand-req/s")
	b.ReportMetric(reqs/std.Seconds(), "json-req/s")
	b.ReportMetric(float64(handAllocs)/reqs, "hand-allocs/req")
	b.ReportMetric(float64(stdAllocs)/reqs, "json-allocs/req")
	b.ReportMetric(std.Seconds()/hand.Seconds(), "speedup")
}

// The replies: REGISTERED and NODES, as the encoder writes them.
var (
	codecNode  = wire.Node{Name: "node-5651", ID: "df0c35f5-bea5-4a60-bbe2-aad3e4954c8c", Address: "127.0.0.1", Port: 55695}
	codecNodes = []string{"node-1", "node-5651", "node-8399", "node-9000"}
)

func BenchmarkCodecEncodeHand(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	id := []byte("2")
	for b.Loop() {
		buf = wire.AppendHeader(buf[:0], wire.TypeNode, wire.CodeRegistered, id)
		buf = appendNodeBody(buf, codecNode)
		buf = append(buf, '}', '\n')
		buf = wire.AppendHeader(buf, wire.TypeNode, wire.CodeNodes, id)
		buf = appendNodesBody(buf, codecNodes)
		buf = append(buf, '}', '\n')
	}
}

func BenchmarkCodecEncodeEncodingJSON(b *testing.B) {
	b.ReportAllocs()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	type reply struct {
		Type int             `json:"type"`
		Code int             `json:"code"`
		ID   json.RawMessage `json:"id,omitempty"`
		Body any             `json:"body"`
	}
	id := json.RawMessage("2")
	for b.Loop() {
		buf.Reset()
		enc.Encode(reply{wire.TypeNode, wire.CodeRegistered, id, codecNode})
		enc.Encode(reply{wire.TypeNode, wire.CodeNodes, id, struct {
			Nodes []string `json:"nodes"`
		}{codecNodes}})
	}
}

// TestCodecBenchmarksAgree: both decoders of the benchmark read the same
// requests, so the comparison is fair.
func TestCodecBenchmarksAgree(t *testing.T) {
	for _, dec := range []func([]byte) (int, error){handDecode, jsonDecode} {
		if n, err := dec(codecRequests); err != nil || n != codecRequestCount {
			t.Fatalf("%d requests, %v", n, err)
		}
	}
}
