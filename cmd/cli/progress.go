package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ghost-network/gpmd/internal/units"
)

// progressThreshold: uploads larger than this show a progress bar when
// standard error is a terminal.
const progressThreshold = 8 << 20

// progressReader counts the bytes read through it and redraws a one-line
// bar on a terminal at most every interval, and once at the end.
type progressReader struct {
	r        io.Reader
	out      io.Writer
	label    string
	total    int64
	now      func() time.Time
	interval time.Duration

	mu      sync.Mutex // guards what follows; Read and finish may race
	done    int64
	start   time.Time
	last    time.Time
	drawn   bool
	stopped bool
}

func newProgressReader(r io.Reader, out io.Writer, label string, total int64, now func() time.Time) *progressReader {
	t := now()
	return &progressReader{r: r, out: out, label: label, total: total, now: now, interval: 100 * time.Millisecond, start: t}
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.mu.Lock()
	p.done += int64(n)
	if t := p.now(); !p.stopped && (t.Sub(p.last) >= p.interval || p.done == p.total) {
		p.last = t
		p.drawLocked(t)
	}
	p.mu.Unlock()
	return n, err
}

// drawLocked redraws the bar: label, bar, percent, bytes, speed.
func (p *progressReader) drawLocked(t time.Time) {
	const width = 30
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
	}
	filled := int(frac * width)
	speed := ""
	if el := t.Sub(p.start).Seconds(); el > 0 {
		speed = units.FormatBytes(int64(float64(p.done)/el)) + "/s"
	}
	fmt.Fprintf(p.out, "\r%s [%s%s] %3.0f%% %s / %s %s\x1b[K",
		p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100,
		units.FormatBytes(p.done), units.FormatBytes(p.total), speed)
	p.drawn = true
}

// finish ends the bar's line, so that what follows starts on its own.
func (p *progressReader) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	if p.drawn {
		p.drawLocked(p.now())
		fmt.Fprintln(p.out)
	}
}
