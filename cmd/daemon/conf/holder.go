package conf

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNotGPMD: a pid that a data folder's files name is not, as far as the
// kernel tells, the gpmd holding that folder. Nothing is signalled.
var ErrNotGPMD = errors.New("not the gpmd of this data folder")

// VerifyHolder checks, from the kernel's own records rather than from what
// the data folder's files say, that pid is a gpmd holding data folder
// dir's lock: /proc/locks names pid as the holder of the flock on that
// very lock file (device and inode), /proc/PID/exe is this program (the
// same file, or one of the same name, as after an upgrade), and the state
// file, when there is a trusted one, names the same pid. `gpmd kill`
// signals nothing else: the files of a folder can be written by anyone
// who owns it, the kernel's records cannot.
func VerifyHolder(dir string, pid int) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: refusing to signal pid %d: %s", ErrNotGPMD, pid, fmt.Sprintf(format, args...))
	}
	lockPath := filepath.Join(dir, LockFile)
	var st unix.Stat_t
	if err := unix.Stat(lockPath, &st); err != nil {
		return fmt.Errorf("lock file: %w", err)
	}
	holders, err := flockHolders(unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), uint64(st.Ino))
	if err != nil {
		return refuse("cannot read the kernel's lock table (%v)", err)
	}
	if !holders[pid] {
		return refuse("the kernel says it does not hold %s", lockPath)
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return refuse("cannot read its executable (%v)", err)
	}
	if !sameProgram(pid, exe) {
		return refuse("it runs %s, not gpmd", exe)
	}
	if s, err := ReadState(dir); err == nil && s.PID != 0 && s.PID != pid {
		return refuse("the state file names pid %d", s.PID)
	}
	return nil
}

// LockHolder is the pid that the kernel's lock table gives as the holder
// of data folder dir's lock, for when the folder's files name none (a
// daemon started on a full disk could write neither). 0 when no single
// process holds it.
func LockHolder(dir string) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, LockFile), &st); err != nil {
		return 0, fmt.Errorf("lock file: %w", err)
	}
	holders, err := flockHolders(unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), uint64(st.Ino))
	if err != nil || len(holders) != 1 {
		return 0, err
	}
	for pid := range holders {
		return pid, nil
	}
	return 0, nil
}

// DaemonProgram is the name of the program that runs the daemon, installed
// beside gpmd (issue 15: the command line links no engine and hands the
// daemon's work to it).
const DaemonProgram = "gpmd-daemon"

// sameProgram reports whether exe (the target of /proc/PID/exe) is this
// program or its daemon: the same file as this program or as the
// DaemonProgram beside it, or a file of either name (a gpmd replaced by an
// upgrade while its daemon runs shows as "… (deleted)").
func sameProgram(pid int, exe string) bool {
	self, err := os.Executable()
	if err != nil {
		return false
	}
	if a, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		for _, p := range []string{self, filepath.Join(filepath.Dir(self), DaemonProgram)} {
			if b, err := os.Stat(p); err == nil && os.SameFile(a, b) {
				return true
			}
		}
	}
	name := filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	return name == filepath.Base(self) || name == DaemonProgram
}

// flockHolders lists the pids that /proc/locks gives for FLOCK locks on
// the file of device major:minor and inode ino. A line reads
// "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (device numbers in
// hex, inode in decimal); blocked waiters ("1: -> FLOCK …") are skipped.
func flockHolders(major, minor uint32, ino uint64) (map[int]bool, error) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	holders := make(map[int]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil {
			holders[pid] = true
		}
	}
	return holders, sc.Err()
}
