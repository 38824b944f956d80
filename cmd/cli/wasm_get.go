package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/spf13/cobra"
)

// getOptions are the flags of `gpmd wasm get`.
type getOptions struct {
	f      *Factory
	Ref    string
	Output string
}

// spoolInMemory: a module up to this size is held in memory until its
// digest is checked; a larger one goes to a temporary file.
const spoolInMemory = 8 << 20

// NewCmdWasmGet is `gpmd wasm get`.
func NewCmdWasmGet(f *Factory) *cobra.Command {
	o := &getOptions{f: f}
	cmd := &cobra.Command{
		Use:   "get NAME[@VERSION|@CONSTRAINT] [-o FILE|DIR]",
		Short: "Fetch a module's bytes",
		Long: `Fetch the bytes of a module version and write them to FILE, or to standard
output; -o DIR (an existing folder) writes DIR/NAME-VERSION.wasm. Without @VERSION it fetches the latest version (the highest that
is not a pre-release); @VERSION is an exact version (v1.2.0 and 1.2.0 are
the same); @CONSTRAINT is a semantic-version constraint such as ^1.2,
~1.2.3 or ">=1.0.0 <2.0.0", which fetches the highest version that meets it.

The bytes are checked against their size and sha256 digest before they
are written anywhere that stays: FILE is written under a temporary name
beside it and renamed only once the bytes check out (a file replaced keeps
its mode), and standard output gets the bytes only after the check. A FILE
that exists and is not a regular file (/dev/null, a FIFO) is written into,
never replaced. It refuses to write binary to a
terminal.

` + exitStatusHelp,
		Example: `  $ gpmd wasm get math@v0.0.1 -o math.wasm
  $ gpmd wasm get math -o math-latest.wasm
  $ gpmd wasm get 'math@^0.1' > math.wasm`,
		Args:              exactlyOneArg("NAME[@VERSION]"),
		ValidArgsFunction: f.completeModuleRefs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return o.run(cmd)
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "file to write the module to (default: standard output)")
	cmd.MarkFlagFilename("output", "wasm")
	return cmd
}

func (o *getOptions) run(cmd *cobra.Command) error {
	name, query, hasVersion := parseRef(o.Ref)
	if name == "" {
		return usageErrorf(cmd, "give a module name: NAME[@VERSION]")
	}
	if hasVersion && query == "" {
		return usageErrorf(cmd, "nothing after @ in %q: give a version or constraint, or leave out the @ for the latest", o.Ref)
	}
	toStdout := o.Output == "" || o.Output == "-"
	if toStdout && o.f.IO.IsStdoutTTY() {
		return usageErrorf(cmd, "refusing to write a binary module to a terminal: give -o FILE or redirect standard output")
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()

	if toStdout {
		sp := &spool{}
		defer sp.Close()
		if _, err := c.Download(cmd.Context(), name, query, sp); err != nil {
			return notWritten(err, "standard output")
		}
		return sp.copyTo(o.f.IO.Out)
	}
	fi, statErr := os.Stat(o.Output)
	if statErr == nil && fi.IsDir() {
		// -o DIR: DIR/NAME-VERSION.wasm, the version resolved first and
		// then fetched exactly, so the name and the bytes agree.
		ctx, cancel := context.WithTimeout(cmd.Context(), requestTimeout)
		rec, err := c.Resolve(ctx, name, query)
		cancel()
		if err != nil {
			return err
		}
		query = rec.Version
		o.Output = filepath.Join(o.Output, rec.Name+"-"+rec.Version+".wasm")
		fi, statErr = os.Stat(o.Output)
		if statErr == nil && fi.IsDir() {
			return inputErrorf("cannot write %s: it is a folder", o.Output)
		}
	}
	if statErr == nil && !fi.Mode().IsRegular() {
		return o.writeInto(cmd, c, name, query)
	}

	// A temporary file beside FILE, renamed over it once the bytes check
	// out: FILE is never seen half-written or holding wrong bytes. No
	// message names the temporary file (pathErr): it is gone by then, and
	// FILE is what the user asked for.
	dir := filepath.Dir(o.Output)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.Output)+".*.part")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", o.Output, pathErr(err))
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	rec, err := c.Download(cmd.Context(), name, query, &tempWriter{f: tmp, name: o.Output})
	if err != nil {
		return notWritten(err, o.Output)
	}
	if err := tmp.Sync(); err != nil {
		return notWritten(fmt.Errorf("writing %s: %w", o.Output, pathErr(err)), o.Output)
	}
	// A file replaced keeps its mode (a 0600 file stays private) and, when
	// root replaces another user's file, its owner.
	mode := os.FileMode(0o644)
	if statErr == nil {
		mode = fi.Mode().Perm()
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
				return notWritten(fmt.Errorf("writing %s: %w", o.Output, pathErr(err)), o.Output)
			}
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		return notWritten(fmt.Errorf("writing %s: %w", o.Output, pathErr(err)), o.Output)
	}
	if err := tmp.Close(); err != nil {
		return notWritten(fmt.Errorf("writing %s: %w", o.Output, pathErr(err)), o.Output)
	}
	if err := os.Rename(tmp.Name(), o.Output); err != nil {
		return notWritten(fmt.Errorf("writing %s: %w", o.Output, pathErr(err)), o.Output)
	}
	committed = true
	printSaved(o.f.IO.Out, rec, o.Output)
	return nil
}

// notWritten says of a failed download that dest was left as it was, so
// that no byte count in err ("after 56 of 56 bytes") reads like a
// success. Errors before any transfer (no such module, not running, a bad
// name) say enough alone.
func notWritten(err error, dest string) error {
	var apiErr *api.APIError
	if errors.As(err, &apiErr) && apiErr.Status/100 == 4 || errors.Is(err, api.ErrNotRunning) {
		return err
	}
	return fmt.Errorf("%w; nothing was written to %s", err, dest)
}

// pathErr is err without the path an *os.PathError or *os.LinkError
// names (a temporary file's): the caller names the file the user gave.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// tempWriter writes a download into its temporary file; its errors name
// the file the user gave instead.
type tempWriter struct {
	f    *os.File
	name string
}

func (w *tempWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("writing %s: %w", w.name, pathErr(err))
	}
	return n, err
}

// writeInto writes a checked download into FILE when FILE exists and is
// not a regular file (/dev/null, a FIFO, a terminal device), as curl -o
// does: such a file is written, never renamed over or replaced.
func (o *getOptions) writeInto(cmd *cobra.Command, c *client.Client, name, query string) error {
	sp := &spool{}
	defer sp.Close()
	rec, err := c.Download(cmd.Context(), name, query, sp)
	if err != nil {
		return notWritten(err, o.Output)
	}
	// No O_CREATE and no O_TRUNC: the file exists and keeps what it is.
	f, err := os.OpenFile(o.Output, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", o.Output, err)
	}
	if err := sp.copyTo(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", o.Output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", o.Output, err)
	}
	printSaved(o.f.IO.Out, rec, o.Output)
	return nil
}

func printSaved(w io.Writer, rec api.Record, path string) {
	fmt.Fprintf(w, "%s@%s %s (%s) saved to %s\n", rec.Name, rec.Version, rec.Digest, units.FormatBytes(rec.Size), path)
}

// spool holds a download until it is checked: in memory up to
// spoolInMemory bytes, then in a temporary file.
type spool struct {
	mem  bytes.Buffer
	file *os.File
}

func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) <= spoolInMemory {
		return s.mem.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "gpmd-get-*.part")
		if err != nil {
			return 0, fmt.Errorf("temporary file for the download: %w", err)
		}
		// Unlinked at once: it disappears with this process, however
		// the process ends.
		os.Remove(f.Name())
		s.file = f
		if _, err := s.mem.WriteTo(f); err != nil {
			return 0, err
		}
	}
	return s.file.Write(p)
}

// copyTo copies what was spooled to w.
func (s *spool) copyTo(w io.Writer) error {
	if s.file == nil {
		_, err := s.mem.WriteTo(w)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

func (s *spool) Close() {
	if s.file != nil {
		s.file.Close()
	}
}
