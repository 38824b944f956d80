package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/cmd/daemon/conf"
	"github.com/ghost-network/gpmd/internal/units"
	"github.com/spf13/cobra"
)

// restoreOptions are the flags of `gpmd restore`.
type restoreOptions struct {
	f      *Factory
	From   string
	Output string
}

// NewCmdRestore is `gpmd restore`.
func NewCmdRestore(f *Factory) *cobra.Command {
	o := &restoreOptions{f: f}
	cmd := &cobra.Command{
		Use:   "restore --from DIR",
		Short: "Restore a store from a backup or a copy, into an empty data folder",
		Long: `Restore the module store of the data folder (--data-dir) from DIR, then
verify it. The daemon must not run on the data folder, and the data
folder must hold no store yet (its modules/ folder empty or absent).

DIR is one of:
  - a folder written by gpmd backup --to DIR;
  - a copy of a data folder (or of its modules/ folder) taken with cp -a
    or rsync, even while the daemon ran: blobs never change once written
    and each is checked against its digest; where the copied index is
    unusable it is rebuilt from the copied ghost.modules.json and blobs.

It prints what was restored, whether the index was copied or rebuilt, and
every version the source names whose bytes it lacks (lost: exit status 7).
This command runs on its own, without the daemon; start it afterwards.

` + exitStatusHelp,
		Example: `  $ gpmd --data-dir /srv/gpmd restore --from /backups/gpmd-2024-05-01
  $ cp -a ~/.ghost-network /backups/copy     # while the daemon runs
  $ gpmd --data-dir /srv/gpmd restore --from /backups/copy`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	cmd.Flags().StringVar(&o.From, "from", "", "backup folder, or copy of a data folder, to restore from")
	cmd.MarkFlagDirname("from")
	addFormatFlag(cmd, &o.Output)
	return cmd
}

func (o *restoreOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	if o.From == "" {
		return usageErrorf(cmd, "give the backup or copy to restore from: --from DIR")
	}
	from, err := absPath(o.From)
	if err != nil {
		return inputErrorf("%v", err)
	}
	if fi, err := os.Stat(from); err != nil || !fi.IsDir() {
		return inputErrorf("--from %s: not a folder", from)
	}
	dir, err := o.f.DataDir()
	if err != nil {
		return err
	}
	eng, err := o.f.Engine()
	if err != nil {
		return err
	}
	rep, err := eng.Restore(cmd.Context(), dir, from)
	if err != nil {
		return err
	}
	modules := filepath.Join(dir, conf.ModulesDir)
	return printRestore(o.f.IO.Out, o.Output, "Restored", modules, rep)
}

// rebuildOptions are the flags of `gpmd rebuild-index`.
type rebuildOptions struct {
	f      *Factory
	Output string
	Force  bool
}

// NewCmdRebuildIndex is `gpmd rebuild-index`.
func NewCmdRebuildIndex(f *Factory) *cobra.Command {
	o := &rebuildOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rebuild-index",
		Short: "Rebuild a deleted or damaged index from ghost.modules.json and the blobs",
		Long: `Rebuild the index (modules/index.db) of the data folder from its
ghost.modules.json and its blobs, for when the index was deleted or
damaged while the daemon was down (gpmd start then refuses to start and
names this command). A damaged index.db is kept beside it as
index.db.damaged-<time>. Then verify the store.

Versions that ghost.modules.json names whose blob is absent or wrong are
printed as lost (exit status 7). Versions uploaded after the mirror's last
write are not in it: their blobs remain, as garbage for gpmd gc, and a
backup (gpmd restore) is the way to get them back.

An index that opens and passes its consistency check is healthy: then
rebuild-index says so and changes nothing, unless --force (which rebuilds
it anyway, and so forgets versions the mirror does not list yet).

The daemon must not run on the data folder.

` + exitStatusHelp,
		Example: `  $ gpmd start
  opening the module store …: index unusable … (gpmd restore … or gpmd rebuild-index)
  $ gpmd rebuild-index
  $ gpmd start`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	addFormatFlag(cmd, &o.Output)
	cmd.Flags().BoolVar(&o.Force, "force", false, "rebuild even a healthy index")
	return cmd
}

func (o *rebuildOptions) run(cmd *cobra.Command) error {
	if err := checkFormat(cmd, o.Output); err != nil {
		return err
	}
	dir, err := o.f.DataDir()
	if err != nil {
		return err
	}
	modules := filepath.Join(dir, conf.ModulesDir)
	if _, err := os.Stat(modules); err != nil {
		return inputErrorf("no module store at %s: %v", modules, err)
	}
	eng, err := o.f.Engine()
	if err != nil {
		return err
	}
	rep, n, err := eng.RebuildIndex(cmd.Context(), dir, o.Force)
	if err != nil {
		return err
	}
	if rep == nil {
		if o.Output == formatJSON {
			return writeJSON(o.f.IO.Out, rebuildSkipped{Healthy: true, Rebuilt: false, Versions: n})
		}
		fmt.Fprintf(o.f.IO.Out, "The index of %s is healthy (%s): nothing to rebuild (--force rebuilds it anyway)\n", modules, plural(n, "version"))
		return nil
	}
	return printRestore(o.f.IO.Out, o.Output, "Rebuilt", modules, *rep)
}

// rebuildSkipped is what rebuild-index -o json prints when the index was
// healthy and nothing was done.
type rebuildSkipped struct {
	Healthy  bool `json:"healthy"`
	Rebuilt  bool `json:"rebuilt"`
	Versions int  `json:"versions"`
}

// printRestore prints what Restore or RebuildIndex did, and fails with
// exit status 7 when something was lost or verify found a problem.
func printRestore(w io.Writer, format, verb, modules string, rep api.RestoreReport) error {
	var trouble []string
	if len(rep.Lost) > 0 {
		trouble = append(trouble, plural(len(rep.Lost), "version")+" lost")
	}
	if len(rep.BadBlobs) > 0 {
		trouble = append(trouble, plural(len(rep.BadBlobs), "corrupt blob")+" left out")
	}
	if rep.Verify != nil && !rep.Verify.OK() {
		trouble = append(trouble, "verify found "+plural(len(rep.Verify.Problems), "problem"))
	}
	var fail error
	if len(trouble) > 0 {
		fail = problemsf("%s %s with trouble: %s (listed above)", verb, modules, joinAnd(trouble))
	}
	if format == formatJSON {
		if err := writeJSON(w, rep); err != nil {
			return err
		}
		return fail
	}
	switch {
	case rep.Rebuilt && rep.Blobs == 0:
		// RebuildIndex copies no blob: only the versions count.
		fmt.Fprintf(w, "%s %s: %s; index rebuilt from ghost.modules.json and the blobs", verb, modules, plural(rep.Imported, "version"))
	case rep.Rebuilt:
		fmt.Fprintf(w, "%s %s: %s in %s (%s); index rebuilt from ghost.modules.json and the blobs", verb, modules, plural(rep.Imported, "version"), plural(rep.Blobs, "blob"), units.FormatBytes(rep.Bytes))
	case rep.IndexCopied:
		fmt.Fprintf(w, "%s %s: %s (%s); index copied", verb, modules, plural(rep.Blobs, "blob"), units.FormatBytes(rep.Bytes))
	default:
		fmt.Fprintf(w, "%s %s: %s (%s)", verb, modules, plural(rep.Blobs, "blob"), units.FormatBytes(rep.Bytes))
	}
	if rep.Source != "" && rep.Source != modules {
		fmt.Fprintf(w, " from %s", rep.Source)
	}
	fmt.Fprintln(w)
	if rep.IndexNote != "" {
		fmt.Fprintf(w, "  note: %s\n", oneLine(errors.New(rep.IndexNote)))
	}
	for _, p := range rep.Lost {
		fmt.Fprintf(w, "  lost  %s@%s  %s  %s\n", p.Name, p.Version, p.Digest, oneLine(errors.New(p.Message)))
	}
	for _, b := range rep.BadBlobs {
		fmt.Fprintf(w, "  corrupt blob left out  %s  %s\n", b.Digest, units.FormatBytes(b.Size))
	}
	if rep.Verify != nil {
		if err := printVerify(w, *rep.Verify); err != nil {
			return err
		}
	}
	return fail
}

// joinAnd is "a", "a and b", "a, b and c".
func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	out := items[0]
	for _, s := range items[1 : len(items)-1] {
		out += ", " + s
	}
	return out + " and " + items[len(items)-1]
}
