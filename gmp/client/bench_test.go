package client

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/gmp"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/internal/testutil"
)

// The client's speed figures (issue 4), each against encoding/json or the
// whole path, measured in the same run:
//
//	go test -run XXX -bench . ./gmp/client/
//
// BenchmarkClientDecode16MiB reports speedup over encoding/json (>= 2).

// moduleReply is a MODULE reply as GPMD writes it.
func moduleReply(module []byte) []byte {
	b := wire.AppendHeader(nil, wire.TypeWasm, wire.CodeModule, []byte("1"))
	b = fmt.Appendf(b, `{"name":"big","version":"v1.0.0","hash":%q,"size":%d,"binary":"`, digestOf(module), len(module))
	b = base64.StdEncoding.AppendEncode(b, module)
	return append(b, "\"}}\n"...)
}

// decodeModuleReply runs the client's decoding of one MODULE reply (the
// reply reader, base64 streamed into w, hash verified), as Client.Module
// does after the network.
func decodeModuleReply(reply []byte, w io.Writer) (wire.ModuleInfo, error) {
	sink := newModuleSink(w, 0)
	cl := &call{id: 1, sink: sink}
	rr := replyReader{br: bufio.NewReaderSize(bytes.NewReader(reply), readBufferSize), max: DefaultMaxReply}
	m, err := rr.read(func() *call { return cl })
	if err != nil {
		return wire.ModuleInfo{}, err
	}
	var info wire.ModuleInfo
	if err := json.Unmarshal(m.body, &info); err != nil {
		return info, err
	}
	return info, sink.verify(info)
}

type jsonModuleReply struct {
	Type, Code, ID int
	Body           struct {
		Name, Version, Hash string
		Size                int64
		Binary              []byte
	}
}

// BenchmarkClientDecode16MiB: the client's streaming decode of a 16 MiB
// MODULE reply (with its hash check) against encoding/json Unmarshal into
// a struct with a []byte field (which checks nothing).
func BenchmarkClientDecode16MiB(b *testing.B) {
	module := testutil.Wasm("big", 16<<20)
	reply := moduleReply(module)
	if _, err := decodeModuleReply(reply, io.Discard); err != nil {
		b.Fatal(err)
	}
	var v jsonModuleReply
	if err := json.Unmarshal(reply, &v); err != nil || !bytes.Equal(v.Body.Binary, module) {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(module)))
	b.ResetTimer()
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := decodeModuleReply(reply, io.Discard); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		var v jsonModuleReply
		if err := json.Unmarshal(reply, &v); err != nil {
			b.Fatal(err)
		}
		ours += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.StopTimer()
	mb := float64(len(module)) * float64(b.N) / 1e6
	b.ReportMetric(mb/ours.Seconds(), "client-MB/s")
	b.ReportMetric(mb/base.Seconds(), "json-MB/s")
	b.ReportMetric(base.Seconds()/ours.Seconds(), "speedup")
}

// BenchmarkClientModule16MiB is the whole client path over TCP, for
// reference: Client.Module of a 16 MiB module into io.Discard.
func BenchmarkClientModule16MiB(b *testing.B) {
	r := newRepo(b)
	module := testutil.Wasm("big", 16<<20)
	upload(b, r, "big", "v1.0.0", module)
	ts := startServer(b, gmp.Config{Modules: r})
	c := dialClient(b, ts.addr)
	ctx := testCtx(b)
	b.SetBytes(int64(len(module)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Module(ctx, "big", "", io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
