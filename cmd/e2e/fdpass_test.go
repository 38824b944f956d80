package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control"
	"github.com/ghost-network/gpmd/cmd/control/api"
	ctlclient "github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/internal/testutil"
	"github.com/opencontainers/go-digest"
)

// TestUploadByDescriptor: over the Unix socket the CLI passes the open
// file (SCM_RIGHTS) and the daemon stores exactly its bytes; over TCP the
// bytes travel as before; the endpoint refuses TCP, a request without a
// descriptor, a FIFO and a directory, each with one line.
func TestUploadByDescriptor(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	sock := filepath.Join(e.dir, conf.SocketFile)

	data := testutil.Wasm("fd", 3<<20+17)
	path := e.file("fd.wasm", data)
	want := digest.FromBytes(data)
	r := e.gpmd("wasm", "upload", "--name", "fd", "--version", "1.0.0", "--file", path)
	if !strings.Contains(r.stdout, "fd@1.0.0 "+want.String()) {
		t.Fatalf("upload by descriptor printed %q, want digest %s", r.stdout, want)
	}
	log, _ := os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(log), "path=/v1/modules/fd/1.0.0/file status=200") {
		t.Fatalf("the CLI's upload did not pass its file over the socket; log:\n%s", log)
	}
	got := filepath.Join(e.home, "got.wasm")
	e.gpmd("wasm", "get", "fd@1.0.0", "-o", got)
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("the stored bytes differ from the file passed (%d of %d bytes, %v)", len(b), len(data), err)
	}

	// Over TCP (--control-addr) the CLI sends the bytes.
	data2 := testutil.Wasm("tcp", 1<<20)
	r = e.gpmd("--control-addr", st.ControlAddr, "wasm", "upload", "--name", "fd", "--version", "1.0.1", "--file", e.file("tcp.wasm", data2))
	if !strings.Contains(r.stdout, digest.FromBytes(data2).String()) {
		t.Fatalf("upload over TCP printed %q", r.stdout)
	}
	log, _ = os.ReadFile(filepath.Join(e.dir, conf.LogFile))
	if !strings.Contains(string(log), "path=/v1/modules/fd/1.0.1 status=200") {
		t.Fatalf("the upload over TCP did not send its body; log:\n%s", log)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := ctlclient.NewUnixClient(sock, "")
	defer c.Close()

	// Anything but a regular file is refused, with what it is.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ff, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ff.Close()
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for _, c2 := range []struct {
		what string
		f    *os.File
		says string
	}{{"a FIFO", ff, "is a pipe or FIFO, not a regular file"}, {"a directory", dir, "is a directory, not a regular file"}} {
		_, err := c.UploadFile(ctx, "fd", "2.0.0", c2.f, false)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), c2.says) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s passed: %v; want one line of ErrInvalid saying %q", c2.what, err, c2.says)
		}
	}

	// Over TCP the endpoint refuses (no descriptor can travel there), and
	// over the socket a request that brought none is refused.
	for _, c2 := range []struct {
		hc   *http.Client
		base string
		says string
	}{
		{&http.Client{Timeout: 10 * time.Second}, "http://" + st.ControlAddr, "travels only over the Unix socket"},
		{unixHTTP(sock), "http://" + api.SocketHost, "no file descriptor came with the request"},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, c2.base+"/v1/modules/fd/2.0.0/file", nil)
		resp, err := c2.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var eb api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || eb.Error != api.CodeBadRequest || !strings.Contains(eb.Message, c2.says) {
			t.Errorf("PUT …/file at %s: %d %+v; want 400 bad_request saying %q", c2.base, resp.StatusCode, eb, c2.says)
		}
	}
	if mods := e.listJSON(); len(mods) != 1 || len(mods[0].Versions) != 2 {
		t.Fatalf("after the refusals the store holds %+v, want fd@1.0.0 and 1.0.1 only", mods)
	}
}

// TestUploadByDescriptorChangedFile: a file truncated while the daemon
// reads it is refused (nothing stored) or, when the daemon finished
// first, stored as read; never a record whose digest its blob does not
// match. The daemon reads with read(2) from the offset it shares with
// the caller, so the test sees how far it got and truncates mid-read.
func TestUploadByDescriptorChangedFile(t *testing.T) {
	e := newEnv(t)
	e.start()
	c := ctlclient.NewUnixClient(filepath.Join(e.dir, conf.SocketFile), "")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const size = 64 << 20
	refused := 0
	for round := range 3 {
		path := e.file("big.wasm", testutil.Wasm("big", size))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		version := "1.0." + string(rune('0'+round))
		type result struct {
			d   api.Digest
			err error
		}
		done := make(chan result, 1)
		go func() {
			rec, err := c.UploadFile(ctx, "big", version, f, false)
			done <- result{rec.Digest, err}
		}()
		// Truncate to half once the daemon has read a little.
		deadline := time.Now().Add(20 * time.Second)
		cut := false
		for !cut && time.Now().Before(deadline) {
			off, _ := f.Seek(0, io.SeekCurrent)
			if off > 0 && off < size/2 {
				if err := os.Truncate(path, size/2); err != nil {
					t.Fatal(err)
				}
				cut = true
				break
			}
			select {
			case res := <-done:
				done <- res
				deadline = time.Time{}
			default:
				time.Sleep(200 * time.Microsecond)
			}
		}
		res := <-done
		f.Close()
		switch {
		case res.err != nil:
			if !errors.Is(res.err, control.ErrFileChanged) && !errors.Is(res.err, errdefs.ErrInvalid) {
				t.Fatalf("round %d: a file truncated mid-read failed with %v, want the file-changed refusal", round, res.err)
			}
			if strings.Contains(res.err.Error(), "\n") {
				t.Errorf("round %d: the refusal is more than one line: %q", round, res.err)
			}
			refused++
			if r := e.run(nil, "wasm", "get", "big@"+version, "-o", filepath.Join(e.home, "x.wasm")); r.code == 0 {
				t.Fatalf("round %d: refused, yet big@%s is stored", round, version)
			}
		default:
			t.Logf("round %d: the daemon read the whole file before the cut (cut=%v); stored as %s", round, cut, res.d)
			if r := e.run(nil, "wasm", "get", "big@"+version, "-o", filepath.Join(e.home, "x.wasm")); r.code != 0 {
				t.Fatalf("round %d: stored, but the get fails: %v", round, r)
			}
		}
		os.Remove(path)
	}
	t.Logf("%d of 3 uploads truncated mid-read were refused", refused)
	if r := e.gpmd("verify"); !strings.Contains(r.stdout, "no problems") {
		t.Fatalf("verify after the truncations: %v", r)
	}
}

// BenchmarkCLIUploadSocketVsTCP: `gpmd wasm upload` as a process per
// file, over the Unix socket (the file passed by descriptor) and over TCP
// (the bytes sent), alternating file by file against one daemon. Each op
// is one upload of each.
//
//	go test ./cmd/e2e -run x -bench CLIUploadSocketVsTCP -benchtime 20x
func BenchmarkCLIUploadSocketVsTCP(b *testing.B) {
	for _, size := range []int{1 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			e := newEnv(b)
			st := e.start()
			data := testutil.Wasm("bench", size)
			path := filepath.Join(b.TempDir(), "m.wasm")
			var tSock, tTCP time.Duration
			upload := func(i int, tcp bool) {
				binary.LittleEndian.PutUint64(data[8:], uint64(i))
				if err := os.WriteFile(path, data, 0o644); err != nil {
					b.Fatal(err)
				}
				args := []string{"wasm", "upload", "--name", "bench", "--version", fmt.Sprintf("1.0.%d", i), "--file", path}
				t := &tSock
				if tcp {
					args = append([]string{"--control-addr", st.ControlAddr}, args...)
					t = &tTCP
				}
				start := time.Now()
				e.gpmd(args...)
				*t += time.Since(start)
			}
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				upload(2*i, i%2 == 1)
				upload(2*i+1, i%2 == 0)
			}
			b.ReportMetric(float64(tSock.Microseconds())/float64(b.N), "µs/socket")
			b.ReportMetric(float64(tTCP.Microseconds())/float64(b.N), "µs/tcp")
			b.ReportMetric(float64(tTCP)/float64(tSock), "socket/tcp-MB/s")
		})
	}
}

// TestPassedDescriptorsDoNotLeak: descriptors sent with requests that do
// not take them (a status, a refused upload) are closed when the request
// ends, so a later upload on the same connection does not find one, and
// the daemon holds no more descriptors than before.
func TestPassedDescriptorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	st := e.start()
	sock := filepath.Join(e.dir, conf.SocketFile)
	fds := func() int {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", st.PID))
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	path := e.file("m.wasm", testutil.Wasm("leak", 4096))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rights := syscall.UnixRights(int(f.Fd()))

	before := fds()
	for i := range 20 {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		// The descriptor rides on a status request, which does not take it.
		if _, _, err := conn.WriteMsgUnix([]byte("GET /v1/status HTTP/1.1\r\nHost: gpmd.sock\r\n\r\n"), rights, nil); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status with a descriptor: %d", resp.StatusCode)
		}
		// The upload after it on the same connection brings none.
		fmt.Fprintf(conn, "PUT /v1/modules/leak/1.0.%d/file HTTP/1.1\r\nHost: gpmd.sock\r\nContent-Length: 0\r\n\r\n", i)
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var eb api.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(eb.Message, "no file descriptor came with the request") {
			t.Fatalf("upload after a status that brought a descriptor: %d %+v; want 400, no descriptor", resp.StatusCode, eb)
		}
		conn.Close()
	}
	testutil.WaitFor(t, 10*time.Second, "the daemon's descriptors back to where they were", func() bool { return fds() <= before })
}

// TestUploadByDescriptorCancelled: a client that goes away (Ctrl-C)
// while the daemon reads the file it passed is logged as a cancel, not a
// failure of the daemon, and nothing is stored.
func TestUploadByDescriptorCancelled(t *testing.T) {
	e := newEnv(t)
	e.start()
	c := ctlclient.NewUnixClient(filepath.Join(e.dir, conf.SocketFile), "")
	defer c.Close()
	const size = 64 << 20
	path := e.file("big.wasm", testutil.Wasm("big", size))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.UploadFile(ctx, "big", "1.0.0", f, false)
		done <- err
	}()
	// Cancel once the daemon has begun reading (the shared offset moved).
	var err2 error
	mid := testutil.Eventually(20*time.Second, func() bool {
		select {
		case err2 = <-done:
			return true
		default:
		}
		off, _ := f.Seek(0, io.SeekCurrent)
		return off > 0 && off < size
	})
	if !mid || err2 != nil {
		t.Skipf("the daemon read the whole file before the test could cancel (%v)", err2)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled upload returned %v", err)
	}
	line := e.logLine("path=/v1/modules/big/1.0.0/file", "the cancelled upload")
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, `msg="upload cancelled by the client"`) || strings.Contains(line, "status=500") {
		t.Errorf("the cancel is not logged as one: %s", line)
	}
	if mods := e.listJSON(); len(mods) != 0 {
		t.Errorf("modules after a cancelled upload: %+v", mods)
	}
}
