package cli

import (
	"context"
	"fmt"
	"runtime"

	"github.com/iggy-go/connectors/abi"
)

// Version of the runtime; overridden at build time with -ldflags "-X ...cli.Version=...".
var Version = "0.1.0-dev"

func init() {
	Register(&Command{
		Name:    "version",
		Summary: "print the runtime version, the plugin ABI version and the Go version",
		Run: func(_ context.Context, env *Env, _ []string) int {
			fmt.Fprintf(env.Stdout, "iggy-connectors %s (plugin ABI %s, %s %s/%s)\n",
				Version, abi.VersionString(abi.Version), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return 0
		},
	})
}
