package cli

import (
	"context"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/spf13/cobra"
)

// completionTimeout keeps a shell's Tab from hanging on a daemon that
// does not answer.
const completionTimeout = 2 * time.Second

// modulesForCompletion asks the daemon for its modules; nil when it cannot
// (not running, wrong token): completion fails silently.
func (f *Factory) modulesForCompletion(cmd *cobra.Command) []api.ListedModule {
	// Completion runs without the persistent pre-run hook.
	if err := f.applyEnv(cmd); err != nil {
		return nil
	}
	c, err := f.Client(cmd)
	if err != nil {
		return nil
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	mods, err := c.List(ctx, "")
	if err != nil {
		return nil
	}
	return mods
}

// completeModuleNames completes the first argument (or a flag) with the
// names of the daemon's modules.
func (f *Factory) completeModuleNames(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, m := range f.modulesForCompletion(cmd) {
		if strings.HasPrefix(m.Name, toComplete) {
			out = append(out, m.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeModuleRefs completes NAME@VERSION: names first (with @ and no
// space after), then the versions of the name typed.
func (f *Factory) completeModuleRefs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	mods := f.modulesForCompletion(cmd)
	name, _, hasAt := strings.Cut(toComplete, "@")
	var out []string
	for _, m := range mods {
		if !hasAt {
			if strings.HasPrefix(m.Name, toComplete) {
				out = append(out, m.Name+"@")
			}
			continue
		}
		if m.Name != name {
			continue
		}
		for _, v := range m.Versions {
			if ref := m.Name + "@" + v.Version; strings.HasPrefix(ref, toComplete) {
				out = append(out, ref)
			}
		}
	}
	if !hasAt {
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
