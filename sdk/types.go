package sdk

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Duration is a config duration. In JSON it is a string in the humantime form the original runtime
// uses ("5ms", "1 s", "1m30s", "2h 5m", "1 day"), one of "0", "none", "disabled", "unlimited"
// (all zero), or a number of milliseconds.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as a string such as "1.5s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON accepts a humantime string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var ms float64
		if err2 := json.Unmarshal(b, &ms); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"5s\" or a number of milliseconds, got %s", b)
		}
		*d = Duration(ms * float64(time.Millisecond))
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

var humanUnits = map[string]time.Duration{
	"ns": time.Nanosecond, "nsec": time.Nanosecond,
	"us": time.Microsecond, "µs": time.Microsecond, "usec": time.Microsecond,
	"ms": time.Millisecond, "msec": time.Millisecond, "millis": time.Millisecond,
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
}

// ParseDuration parses the humantime form used by the original runtime's configs: a sequence of
// <number><unit> terms, optionally separated by spaces ("1m30s", "1 s", "2h 5m"); "0", "none",
// "disabled" and "unlimited" mean zero.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	switch strings.ToLower(in) {
	case "0", "none", "disabled", "unlimited":
		return 0, nil
	case "":
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := in
	for len(rest) > 0 {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a number at %q", s, rest)
		}
		num, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %v", s, err)
		}
		rest = strings.TrimLeft(rest[i:], " ")
		j := 0
		for j < len(rest) && (unicode.IsLetter(rune(rest[j])) || rest[j] >= 0x80) {
			j++
		}
		unit, ok := humanUnits[strings.ToLower(rest[:j])]
		if !ok {
			if j == 0 {
				return 0, fmt.Errorf("invalid duration %q: missing unit (e.g. ms, s, m, h)", s)
			}
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q", s, rest[:j])
		}
		total += time.Duration(num * float64(unit))
		rest = rest[j:]
	}
	return total, nil
}

// Secret is a config string that never appears in logs or errors: String and MarshalJSON redact it.
// Use Reveal to get the value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "***" (or "" when empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a plain JSON string.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("must be a string")
	}
	*s = Secret(v)
	return nil
}
