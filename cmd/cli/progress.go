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

// progressDelay: an upload of unknown size (--file -, a pipe) shows its
// progress once it has run this long or passed progressThreshold, so that
// a small pipe finishes without a line flashing by.
const progressDelay = 500 * time.Millisecond

// progressReader counts the bytes read through it and redraws a one-line
// bar on a terminal at most every interval, and once at the end. With a
// known total it draws a bar, percent, bytes, rate and the time left;
// with an unknown one (total < 0), bytes and rate.
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
	if t := p.now(); !p.stopped && p.dueLocked(t) {
		p.last = t
		p.drawLocked(t)
	}
	p.mu.Unlock()
	return n, err
}

// dueLocked reports whether the bar is to be redrawn at t.
func (p *progressReader) dueLocked(t time.Time) bool {
	if p.total < 0 && !p.drawn && t.Sub(p.start) < progressDelay && p.done <= progressThreshold {
		return false
	}
	return t.Sub(p.last) >= p.interval || p.done == p.total
}

// drawLocked redraws the bar: label, bar, percent, bytes, speed, time left.
func (p *progressReader) drawLocked(t time.Time) {
	const width = 30
	el := t.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	if p.total < 0 {
		speed := ""
		if rate > 0 {
			speed = " " + units.FormatBytes(int64(rate)) + "/s"
		}
		fmt.Fprintf(p.out, "\r%s %s%s\x1b[K", p.label, units.FormatBytes(p.done), speed)
		p.drawn = true
		return
	}
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
		if frac > 1 {
			frac = 1
		}
	}
	filled := int(frac * width)
	speed := ""
	if rate > 0 {
		speed = units.FormatBytes(int64(rate)) + "/s"
		if left := p.total - p.done; left > 0 {
			speed += ", " + formatLeft(time.Duration(float64(left)/rate*float64(time.Second))) + " left"
		}
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

// formatLeft is a time estimate, coarse as estimates are: 7s, 2m05s, 1h10m.
func formatLeft(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()+0.5))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
