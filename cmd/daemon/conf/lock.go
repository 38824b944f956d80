package conf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/internal/fsutil"
	"golang.org/x/sys/unix"
)

// RunningError says that a daemon already holds the data folder.
type RunningError struct {
	PID     int // 0 when the holder has not written its pid yet
	DataDir string
}

func (e *RunningError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("gpmd is already running on %s", e.DataDir)
	}
	return fmt.Sprintf("gpmd is already running (pid %d) on %s", e.PID, e.DataDir)
}

// lockRetry is how long acquireLock retries a held lock: a Probe holds it
// for an instant, and must not make a starting daemon fail.
const lockRetry = 200 * time.Millisecond

// lock is the held lock file of a data folder.
type lock struct{ f *os.File }

// acquireLock takes <dir>/gpmd.lock (flock, exclusive) and writes this
// process's pid in it. The lock is released when the process ends, however
// it ends.
func acquireLock(dir string) (*lock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fsutil.FileMode)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	deadline := time.Now().Add(lockRetry)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock file %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			pid := readPID(f)
			f.Close()
			return nil, &RunningError{PID: pid, DataDir: dir}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		if err == nil {
			err = f.Sync()
		}
		// The flock is the lock; the pid in the file is for messages. On a
		// full disk it stays unwritten rather than keep the daemon (and so
		// gc and rm, the way out) from starting.
		if err != nil && !errors.Is(err, unix.ENOSPC) {
			f.Close()
			return nil, fmt.Errorf("lock file %s: %w", path, err)
		}
	}
	return &lock{f: f}, nil
}

// release drops the lock. The file stays: removing it would let two
// processes lock two different files of the same name.
func (l *lock) release() error {
	l.f.Truncate(0)
	return l.f.Close()
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	return parsePID(buf[:n])
}

// parsePID is the pid that a lock or pid file holds (a number and a
// newline), 0 when it holds none.
func parsePID(b []byte) int {
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Probe reports whether a daemon holds the data folder dir, and its pid.
// It tells a live daemon from the files a killed one left, by the lock.
func Probe(dir string) (pid int, running bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("lock file: %w", err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, false, nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return 0, false, fmt.Errorf("lock file: %w", err)
	}
	return readPID(f), true, nil
}

// LockDataDir takes the data folder's daemon lock for an offline command
// (restore, rebuild-index), so that no daemon starts on the folder while it
// works. A running daemon makes it fail with *RunningError. release drops
// the lock.
func LockDataDir(dir string) (release func() error, err error) {
	l, err := acquireLock(dir)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
