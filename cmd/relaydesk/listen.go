package main

import "github.com/spf13/cobra"

// Placeholder: the webhook-signing work replaces this file.
func newListenCmd() *cobra.Command { return &cobra.Command{Use: "listen", Hidden: true} }
