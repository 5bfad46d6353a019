//go:build !cgo

package export

import (
	"fmt"

	"github.com/iggy-go/connectors/sdk"
)

// Without cgo nothing can be exported: a plugin must be built with CGO_ENABLED=1 and
// -buildmode=c-shared. This file only lets a plugin's main package compile (and be vetted or tested)
// with CGO_ENABLED=0; Register then checks its argument and records it, exporting nothing.

var registered *sdk.Plugin

// Register records p (one plugin per library, as with cgo); without cgo it exports nothing.
func Register(p *sdk.Plugin) {
	if p == nil {
		panic("export.Register: nil plugin")
	}
	if registered != nil {
		panic(fmt.Sprintf("export.Register: plugin %q is already registered in this library; a library serves exactly one plugin (registering %q)",
			registered.PluginInfo().Name, p.PluginInfo().Name))
	}
	registered = p
}
