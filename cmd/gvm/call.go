package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gvm/peer"
)

type callOptions struct {
	*globals
	version string
}

func newCmdCall(g *globals) *cobra.Command {
	o := &callOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "call PEER MODULE.FUNCTION [ARGS...]",
		Short: "Call a function on a serving node (gvm serve) and print the results",
		Long: `call asks GPMD where the node PEER is (GMP CONNECT), connects to it and
asks it to run MODULE.FUNCTION with ARGS (see docs/gvm.md for the
protocol). The node fetches the module if it has not yet. The results
are printed on one line.

` + exitStatusHelp,
		Example: `  $ gvm call calc math.add 2 3
  5
  $ gvm call --version v0.0.1 calc math.add 2 3`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVar(&o.version, "version", "", "the module version or constraint (default: the node's current choice)")
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (o *callOptions) run(ctx context.Context, args []string) error {
	peerName, target, fargs := args[0], args[1], args[2:]
	if _, _, err := peer.SplitTarget(target); err != nil {
		return &usageError{msg: err.Error()}
	}
	c, _, err := dialGMP(ctx, o.gmpAddr)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	node, err := c.Connect(cctx, peerName)
	cancel()
	c.Close()
	if errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("no live node named %s (gpmd nodes lists them): %w", peerName, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("connect %s: %w", peerName, err)
	}
	addr := net.JoinHostPort(node.Address, strconv.Itoa(node.Port))
	pc, err := peer.Dial(ctx, addr)
	if err != nil {
		return &peerError{fmt.Errorf("node %s at %s refuses the connection", peerName, addr)}
	}
	defer pc.Close()
	results, err := pc.Call(ctx, target, o.version, fargs)
	var re *peer.RemoteError
	switch {
	case errors.As(err, &re):
		return fmt.Errorf("node %s: %w", peerName, err)
	case errors.Is(err, errdefs.ErrUnavailable):
		return &peerError{fmt.Errorf("node %s at %s went away during the call", peerName, addr)}
	case err != nil:
		return err
	}
	if len(results) > 0 {
		fmt.Fprintln(o.stdout, strings.Join(results, " "))
	}
	return nil
}

func portOf(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}
