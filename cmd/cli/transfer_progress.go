package cli

// transferBar is the progress of a push or pull the daemon carries out, as
// it streams it: a bar of bytes on a terminal, nothing otherwise.
type transferBar struct{ p *progressReader }

func (f *Factory) transferBar(label string) *transferBar {
	if !f.IO.IsStderrTTY() {
		return &transferBar{}
	}
	return &transferBar{p: newProgressReader(nil, f.IO.ErrOut, label, 0, f.Now)}
}

// callback is what the control client calls with each progress line; nil
// (no stream asked) when there is no terminal.
func (b *transferBar) callback() func(done, total int64) {
	if b.p == nil {
		return nil
	}
	return func(done, total int64) {
		p := b.p
		p.mu.Lock()
		defer p.mu.Unlock()
		p.done, p.total = done, total
		if t := p.now(); !p.stopped && (t.Sub(p.last) >= p.interval || done == total) {
			p.last = t
			p.drawLocked(t)
		}
	}
}

func (b *transferBar) finish() {
	if b.p != nil {
		b.p.finish()
	}
}
