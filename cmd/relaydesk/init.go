package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newInitCmd() *cobra.Command {
	var workspace, email string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:     "init --workspace NAME --email EMAIL --password-stdin",
		Short:   "Create a workspace and its first Admin (non-interactive)",
		Example: `  printf '%s\n' "$PASSWORD" | relaydesk init --workspace Acme --email admin@acme.test --password-stdin`,
		Args:    cobra.NoArgs,
	}
	get := configFlags(cmd.Flags())
	cmd.Flags().StringVar(&workspace, "workspace", "", "workspace name")
	cmd.Flags().StringVar(&email, "email", "", "the Admin's email")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the Admin's password from standard input (first line)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if workspace == "" || email == "" {
			return errors.New("--workspace and --email are required")
		}
		if !passwordStdin {
			return errors.New("--password-stdin is required: the password is never taken from a flag")
		}
		line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no password on standard input")
		}
		password := strings.TrimRight(line, "\r\n")
		a, err := openApp(cmd.Context(), get)
		if err != nil {
			return err
		}
		defer a.Close()
		out, err := a.Accounts.CreateWorkspaceWithAdmin(cmd.Context(), workspace, email, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "workspace_id=%s\nuser_id=%s\nemail=%s\n", out.Workspace.ID, out.User.ID, out.User.Email)
		return nil
	}
	return cmd
}
