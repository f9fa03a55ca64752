package main

import "github.com/spf13/cobra"

// Placeholder: the webhook-signing work replaces this file.
func newVerifyCmd() *cobra.Command { return &cobra.Command{Use: "verify", Hidden: true} }
