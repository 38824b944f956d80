package daemon

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// busyReply is what a connection over the control API's cap is told
// before it is closed: a whole HTTP response, so that a client sees why.
var busyReply = func() []byte {
	body := `{"error":"busy","message":"gpmd is busy: the control API holds the most connections it takes (--control-max-conns); try again later"}` + "\n"
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// busyWriteTimeout bounds the write of busyReply: the rejection work of a
// flood is one short write per connection, never a wait.
const busyWriteTimeout = 100 * time.Millisecond

// limitListener holds at most max connections open at once. Unlike
// netutil.LimitListener it never stops accepting (the kernel's queue would
// fill with connections that hear nothing): a connection over the cap is
// answered busyReply at once and closed.
type limitListener struct {
	net.Listener
	max int

	mu   sync.Mutex // guards open
	open int        // connections accepted and not yet closed
}

func newLimitListener(l net.Listener, max int) *limitListener {
	return &limitListener{Listener: l, max: max}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		ok := l.open < l.max
		if ok {
			l.open++
		}
		l.mu.Unlock()
		if ok {
			return &limitConn{Conn: c, l: l}, nil
		}
		c.SetWriteDeadline(time.Now().Add(busyWriteTimeout))
		c.Write(busyReply)
		c.Close()
	}
}

// limitConn gives its slot back once, on its first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return err
}
