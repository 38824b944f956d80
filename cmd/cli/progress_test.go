package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestProgressTimeLeft: with a known size the bar ends its line with the
// rate and the time left, and drops the estimate at the end.
func TestProgressTimeLeft(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	p := newProgressReader(bytes.NewReader(make([]byte, 4000)), &out, "up", 4000, func() time.Time { return now })
	buf := make([]byte, 1000)
	p.Read(buf)
	now = now.Add(time.Second)
	p.Read(buf)
	if got := out.String(); !strings.Contains(got, " 50% 2 KiB / 3.9 KiB 2 KiB/s, 1s left") {
		t.Errorf("at half: %q", got)
	}
	io.Copy(io.Discard, p)
	p.finish()
	last := out.String()[strings.LastIndex(out.String(), "\r"):]
	if !strings.Contains(last, "100%") || strings.Contains(last, "left") || !strings.HasSuffix(last, "\n") {
		t.Errorf("at the end: %q", last)
	}
}

// TestProgressUnknownSize: a stream of unknown size (--file -) shows bytes
// and rate, no bar and no percent; not before progressDelay (a small pipe
// draws nothing at all).
func TestProgressUnknownSize(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	p := newProgressReader(bytes.NewReader(make([]byte, 3<<20)), &out, "up", -1, func() time.Time { return now })
	buf := make([]byte, 1<<20)
	p.Read(buf)
	if out.Len() != 0 {
		t.Fatalf("drew before %s: %q", progressDelay, out.String())
	}
	now = now.Add(time.Second)
	p.Read(buf)
	got := out.String()
	if !strings.Contains(got, "\rup 2 MiB 2 MiB/s") || strings.Contains(got, "%") || strings.Contains(got, " [") {
		t.Errorf("after 1s: %q", got)
	}
	io.Copy(io.Discard, p)
	p.finish()
	if !strings.Contains(out.String(), "\rup 3 MiB") || !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("at the end: %q", out.String())
	}

	out.Reset()
	small := newProgressReader(bytes.NewReader(make([]byte, 100)), &out, "up", -1, time.Now)
	io.Copy(io.Discard, small)
	small.finish()
	if out.Len() != 0 {
		t.Errorf("a small quick pipe drew %q", out.String())
	}
}

// TestFormatLeft: coarse estimates.
func TestFormatLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{
		7 * time.Second:                 "7s",
		125 * time.Second:               "2m05s",
		70 * time.Minute:                "1h10m",
		1500 * time.Millisecond:         "2s",
		59*time.Minute + 59*time.Second: "59m59s",
	} {
		if got := formatLeft(d); got != want {
			t.Errorf("formatLeft(%s) = %q, want %q", d, got, want)
		}
	}
}
