package cli

import (
	"fmt"
	"io"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/spf13/cobra"
)

// backupOptions are the flags of `gpmd backup`.
type backupOptions struct {
	f      *Factory
	To     string
	Output string
}

// NewCmdBackup is `gpmd backup`.
func NewCmdBackup(f *Factory) *cobra.Command {
	o := &backupOptions{f: f}
	cmd := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Write a consistent backup of the store into a folder, while the daemon runs",
		Long: `Write a consistent snapshot of the running daemon's store into DIR: the
index as of one transaction, every blob it names (each checked against its
digest) and ghost.modules.json. Uploads and fetches go on meanwhile.

DIR must not exist (it is created) or be an empty folder of yours, not a
symlink; it is made 0700, its files 0600 (blobs 0400). Every path under it
is created without following symlinks, so nobody can redirect the writes.

The daemon streams the backup to this command, which writes DIR: the daemon
never opens a path that a caller names. Bring a backup back with
gpmd restore --from DIR.

` + exitStatusHelp,
		Example: `  $ gpmd backup --to /backups/gpmd-2024-05-01
  Backed up 3 versions in 3 blobs (1.2 MiB) to /backups/gpmd-2024-05-01`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.To, "to", "", "folder to write the backup into (empty or absent)")
	cmd.MarkFlagDirname("to")
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *backupOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if o.To == "" {
		return usageErrorf(cmd, "give the folder to write the backup into: --to DIR")
	}
	to, err := absPath(o.To)
	if err != nil {
		return inputErrorf("%v", err)
	}
	eng, err := o.f.Engine()
	if err != nil {
		return err
	}
	c, err := o.f.Client(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	var rep api.BackupReport
	err = c.Backup(cmd.Context(), func(r io.Reader) error {
		var err error
		rep, err = eng.ExtractBackup(cmd.Context(), r, to)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup to %s: %w", to, err)
	}
	if o.Output == formatJSON {
		return writeJSON(o.f.IO.Out, struct {
			To string `json:"to"`
			api.BackupReport
		}{to, rep})
	}
	fmt.Fprintf(o.f.IO.Out, "Backed up %s in %s (%s) to %s\n", plural(rep.Versions, "version"), plural(rep.Blobs, "blob"), units.FormatBytes(rep.Bytes), to)
	return nil
}
