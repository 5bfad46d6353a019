package plugin

import (
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
)

var (
	libcOnce   sync.Once
	libcSetenv func(name, value string, overwrite int32) int32
	libcErr    error
)

// SetPluginEnv sets an environment variable that plugins read when they load, such as the SDKs'
// IGGY_PLUGIN_LOG_LEVEL. It sets it for this process (os.Setenv, which plugin-host children inherit)
// and in the C environment: a CGO-free Go program's os.Setenv does not reach libc's environ, which is
// what an in-process library — and the Go runtime inside a Go plugin — reads. Call it before the
// libraries that should see the value are opened.
func SetPluginEnv(name, value string) error {
	if err := os.Setenv(name, value); err != nil {
		return err
	}
	libcOnce.Do(func() {
		var lib string
		switch runtime.GOOS {
		case "linux":
			lib = "libc.so.6"
		case "darwin":
			lib = "/usr/lib/libSystem.B.dylib"
		default:
			libcErr = fmt.Errorf("setting the C environment is not supported on %s", runtime.GOOS)
			return
		}
		h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			libcErr = fmt.Errorf("load %s: %w", lib, err)
			return
		}
		purego.RegisterLibFunc(&libcSetenv, h, "setenv")
	})
	if libcErr != nil {
		return libcErr
	}
	if libcSetenv(name, value, 1) != 0 {
		return fmt.Errorf("setenv %s failed", name)
	}
	return nil
}
