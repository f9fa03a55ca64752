// Command relaydesk is the whole service: the API, the UI, the delivery workers and the
// tools around them (init, migrate, platform tokens, verify, listen, bench).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "relaydesk",
		Short:         "Signed webhooks for a business-texting workspace",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		&cobra.Command{Use: "version", Short: "Print the version", Run: func(*cobra.Command, []string) { fmt.Println(version) }},
		newServeCmd(),
		newMigrateCmd(),
		newInitCmd(),
		newPlatformTokenCmd(),
		newVerifyCmd(),
		newListenCmd(),
		newDemoCmd(),
		newBenchCmd(),
	)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "relaydesk:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode lets a command choose its status (verify exits 1 on a bad signature).
func exitCode(err error) int {
	var c interface{ ExitCode() int }
	if ok := asExit(err, &c); ok {
		return c.ExitCode()
	}
	return 1
}
