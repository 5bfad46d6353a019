// Package configs holds the runtime's example configuration. Its config.toml is also compiled into
// the runtime as the defaults of every main-config key (runtime/config.Load layers the user's file
// and the environment over it), so the documented file and the effective defaults cannot drift.
package configs

import _ "embed"

// DefaultConfig is configs/config.toml: every main-config key with its default.
//
//go:embed config.toml
var DefaultConfig []byte
