package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/iggy-go/connectors/sdk"
)

// Duration is a config duration written in the original runtime's humantime form: "5ms", "1 s",
// "1m30s", "2h 5m"; "0", "none", "disabled" and "unlimited" all mean zero. Parsing is
// sdk.ParseDuration, shared with plugins. It renders as Go's time.Duration string ("1m30s", "5ms",
// "0s"), which parses back to the same value.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes the duration as a string (used by TOML and JSON encoders).
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses the humantime form.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// ParseDuration parses a config duration (sdk.ParseDuration) and phrases errors as
// `invalid duration "5 parsecs": unknown unit "parsecs"`.
func ParseDuration(s string) (time.Duration, error) {
	v, err := sdk.ParseDuration(s)
	if err != nil {
		if strings.TrimSpace(s) == "" {
			return 0, fmt.Errorf("invalid duration %q: empty (use e.g. \"5ms\", or \"0\" for none)", s)
		}
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return v, nil
}

// decodeConfig lets the config decoder read a Duration from a string.
func (d *Duration) decodeConfig(dc *decoder, path string, src any) {
	s, ok := src.(string)
	if !ok {
		dc.problemf(path, "expected a duration string such as \"5ms\", got %s", describe(src))
		return
	}
	v, err := ParseDuration(s)
	if err != nil {
		dc.problemf(path, "%s", err.Error())
		return
	}
	*d = Duration(v)
}
