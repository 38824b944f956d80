package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/control/client"
	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/modref"
	"github.com/spf13/cobra"
)

// uploadOptions are the flags of `gpmd wasm upload`.
type uploadOptions struct {
	f       *Factory
	Name    string
	Version string
	File    string
	Check   bool
}

// NewCmdWasmUpload is `gpmd wasm upload`.
func NewCmdWasmUpload(f *Factory) *cobra.Command {
	o := &uploadOptions{f: f}
	cmd := &cobra.Command{
		Use:   "upload --name NAME --version VERSION --file FILE|-",
		Short: "Upload a version of a WebAssembly module",
		Long: `Upload the bytes of FILE (or of standard input with --file -) as version
VERSION of module NAME. The daemon never opens a path it is given: over
its Unix socket the command line passes it the open file (its descriptor),
which the daemon reads once; over TCP (--control-addr), and for standard
input, the command line sends the bytes. It prints "Module Uploaded Successfully!" and
then NAME@VERSION with the sha256 digest of the bytes.

Uploading a version that exists with the same bytes succeeds and changes
nothing; with other bytes it fails (exit 5): versions never change.
A name is 1-64 of a-z 0-9 _ -, starting with a letter. A version is a
full semantic version, with or without a leading v: v0.0.1, 1.2.3-rc.1.
Files over 8 MiB show a progress bar, with the time left, when standard
error is a terminal; standard input (size unknown) shows bytes and rate
once it has run half a second or passed 8 MiB.

The daemon reads the structure of the module as it arrives (sections,
imports, exports, function bodies' bounds) and refuses a broken binary
with one line that says what is wrong and where (exit 2); nothing of it is
kept. --check also validates the module in full (instructions included,
with wazero, as gpmd wasm check does) before anything is kept: a module
wazero refuses is refused (exit 2), and one that needs a feature the
validator lacks is refused saying so (exit 1; upload without --check to
keep it unchecked).

` + exitStatusHelp,
		Example: `  $ gpmd wasm upload --name=math --version=v0.0.1 --file=./math.wasm
  Module Uploaded Successfully!
  math@v0.0.1 sha256:93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476

  # refuse anything wazero would not compile
  $ gpmd wasm upload --name=math --version=v0.0.2 --file=./math.wasm --check

  # from standard input
  $ wat2wasm math.wat --output=- | gpmd wasm upload --name math --version 0.1.0 --file -`,
		Args:        noArgs,
		Annotations: map[string]string{annotationNoSignals: ""},
		RunE:        func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Name, "name", "", "module name (1-64 of a-z 0-9 _ -, starting with a letter)")
	fl.StringVar(&o.Version, "version", "", "module version, a semantic version such as v0.0.1")
	fl.StringVar(&o.File, "file", "", "the .wasm file to upload, or - for standard input")
	fl.BoolVar(&o.Check, "check", false, "validate the module in full (wazero) before it is kept")
	cmd.MarkFlagFilename("file", "wasm")
	cmd.RegisterFlagCompletionFunc("name", f.completeModuleNames)
	cmd.RegisterFlagCompletionFunc("version", cobra.NoFileCompletions)
	return cmd
}

func (o *uploadOptions) run(cmd *cobra.Command) error {
	var missing []string
	for _, m := range []struct{ flag, value string }{{"--name", o.Name}, {"--version", o.Version}, {"--file", o.File}} {
		if m.value == "" {
			missing = append(missing, m.flag)
		}
	}
	if len(missing) > 0 {
		return usageErrorf(cmd, "missing %s", strings.Join(missing, ", "))
	}

	// The daemon checks them too (it is the boundary); checked here as
	// well, a bad --name or --version is a bad flag whether or not a
	// daemon runs, and nothing is read from --file first.
	if err := modref.CheckRef(o.Name, o.Version); err != nil {
		return usageErrorf(cmd, "%v", err)
	}

	body, size, closeFile, err := o.open()
	if err != nil {
		return err
	}
	defer closeFile()

	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	if fh, ok := body.(*os.File); ok && size > 0 && c.Socket() {
		rec, err := o.uploadFile(cmd, c, fh, size)
		if err == nil {
			return o.done(rec)
		}
		// A daemon older than the upload by descriptor has no such
		// endpoint (404): send it the bytes, from the start.
		if !errors.Is(err, errdefs.ErrNotFound) {
			return err
		}
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			return inputErrorf("cannot read %s: %v", o.File, err)
		}
	}
	var progress *progressReader
	// A file over the threshold, or a stream of unknown size (--file -),
	// shows its progress on a terminal.
	if (size > progressThreshold || size < 0) && o.f.IO.IsStderrTTY() {
		o.f.interruptible(cmd)
		progress = newProgressReader(body, o.f.IO.ErrOut, "uploading "+o.Name+"@"+o.Version, size, o.f.Now)
		body = progress
	}
	upload := c.Upload
	if o.Check {
		upload = c.UploadChecked
	}
	rec, err := upload(cmd.Context(), o.Name, o.Version, body, size)
	if progress != nil {
		progress.finish()
	}
	if err != nil {
		return err
	}
	return o.done(rec)
}

// done says what was stored.
func (o *uploadOptions) done(rec api.Record) error {
	fmt.Fprintln(o.f.IO.Out, "Module Uploaded Successfully!")
	fmt.Fprintf(o.f.IO.Out, "%s@%s %s\n", rec.Name, rec.Version, rec.Digest)
	return nil
}

// uploadFile hands the daemon the open file over its Unix socket instead
// of sending the bytes (client.Client.UploadFile): the daemon reads it
// once, from the descriptor. The progress bar follows the offset the
// daemon moves as it reads.
func (o *uploadOptions) uploadFile(cmd *cobra.Command, c *client.Client, fh *os.File, size int64) (api.Record, error) {
	if size <= progressThreshold || !o.f.IO.IsStderrTTY() {
		return c.UploadFile(cmd.Context(), o.Name, o.Version, fh, o.Check)
	}
	o.f.interruptible(cmd)
	bar := o.f.transferBar("uploading " + o.Name + "@" + o.Version)
	show := bar.callback()
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// lseek(SEEK_CUR) reads the shared offset, never moves it.
				if off, err := fh.Seek(0, io.SeekCurrent); err == nil {
					show(off, size)
				}
			}
		}
	}()
	rec, err := c.UploadFile(cmd.Context(), o.Name, o.Version, fh, o.Check)
	close(stop)
	<-watched
	if err == nil {
		show(size, size)
	}
	bar.finish()
	return rec, err
}

// open opens what --file names, after the checks that give a clear
// message before anything is sent. size is -1 when unknown (standard
// input, a pipe).
func (o *uploadOptions) open() (r io.Reader, size int64, closeFn func(), err error) {
	if o.File == "-" {
		return o.f.IO.In, -1, func() {}, nil
	}
	fi, err := os.Stat(o.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, nil, inputErrorf("file %s does not exist", o.File)
	case err != nil:
		return nil, 0, nil, inputErrorf("cannot read %s: %v", o.File, errors.Unwrap(err))
	case fi.IsDir():
		return nil, 0, nil, inputErrorf("%s is a directory, not a WebAssembly file", o.File)
	case fi.Mode().IsRegular() && fi.Size() == 0:
		return nil, 0, nil, inputErrorf("%s is empty (0 bytes): a WebAssembly module starts with the bytes \\0asm", o.File)
	}
	fh, err := os.Open(o.File)
	if err != nil {
		return nil, 0, nil, inputErrorf("cannot read %s: %v", o.File, errors.Unwrap(err))
	}
	size = -1
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	return fh, size, func() { fh.Close() }, nil
}
