package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/relaydesk/relaydesk/internal/app"
	"github.com/relaydesk/relaydesk/internal/store"
)

func newPlatformTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "platform-token", Short: "Manage the producer's platform tokens"}

	create := withApp(&cobra.Command{Use: "create NAME", Short: "Create a token (printed once)", Args: cobra.ExactArgs(1)},
		func(cmd *cobra.Command, args []string, a *app.App) error {
			t, token, err := a.Platform.Create(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Created platform token %s (%s). It is shown once; store it now.\n", t.ID, t.Name)
			fmt.Fprintln(cmd.OutOrStdout(), token)
			return nil
		})

	list := withApp(&cobra.Command{Use: "list", Short: "List tokens (never the tokens themselves)", Args: cobra.NoArgs},
		func(cmd *cobra.Command, _ []string, a *app.App) error {
			ts, err := a.Platform.List(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tPREFIX\tCREATED\tLAST USED\tREVOKED")
			for _, t := range ts {
				used, revoked := "-", "-"
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.Format("2006-01-02 15:04")
				}
				if t.RevokedAt != nil {
					revoked = t.RevokedAt.Format("2006-01-02 15:04")
				}
				fmt.Fprintf(w, "%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, t.CreatedAt.Format("2006-01-02 15:04"), used, revoked)
			}
			return w.Flush()
		})

	revoke := withApp(&cobra.Command{Use: "revoke ID", Short: "Revoke a token at once", Args: cobra.ExactArgs(1)},
		func(cmd *cobra.Command, args []string, a *app.App) error {
			if err := a.Platform.Revoke(cmd.Context(), args[0]); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no live platform token %s", args[0])
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		})
	cmd.AddCommand(create, list, revoke)
	return cmd
}
