package config

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a Problem stops something from being used.
type Severity int

const (
	// SeverityError: the file, connector or value it names cannot be used. For the main config an
	// error is fatal; for a connector file it removes that connector (the others still load).
	SeverityError Severity = iota
	// SeverityWarning: the config works but probably not as intended (an option that has no
	// effect; an unknown key is an error). `run` logs warnings; `validate` lists them and fails
	// on them unless told to accept warnings.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// MarshalText renders the severity as "error" or "warning" (for JSON output).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "error" or "warning".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "error":
		*s = SeverityError
	case "warning":
		*s = SeverityWarning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Problem is one thing wrong with a configuration, located as precisely as possible.
//
// File is the file the value came from (as given or found, e.g. "configs/sinks/pg.toml"), or
// "environment" for an environment variable, "<defaults>" for the embedded defaults, or the URL of
// the HTTP config provider. Key is the dotted key path inside that file, with array indices, e.g.
// "streams[0].poll_interval" (for environment variables: the variable's name). Both may be empty
// when they do not apply (e.g. a file that cannot be read has no key).
type Problem struct {
	File     string   `json:"file,omitempty"`
	Key      string   `json:"key,omitempty"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
}

// Error renders "file: key: message" (parts that are empty are left out), e.g.
// `sinks/pg.toml: streams[0].poll_interval: invalid duration "5 parsecs": unknown unit "parsecs"`.
func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is a list of problems; it is an error when it holds at least one SeverityError.
type Problems []Problem

// Add appends an error-severity problem.
func (ps *Problems) Add(file, key, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Key: key, Message: fmt.Sprintf(format, args...)})
}

// Warn appends a warning.
func (ps *Problems) Warn(file, key, format string, args ...any) {
	*ps = append(*ps, Problem{File: file, Key: key, Message: fmt.Sprintf(format, args...), Severity: SeverityWarning})
}

// HasErrors reports whether any problem has SeverityError.
func (ps Problems) HasErrors() bool {
	for _, p := range ps {
		if p.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the error-severity problems.
func (ps Problems) Errors() Problems { return ps.filter(SeverityError) }

// Warnings returns only the warnings.
func (ps Problems) Warnings() Problems { return ps.filter(SeverityWarning) }

func (ps Problems) filter(s Severity) Problems {
	var out Problems
	for _, p := range ps {
		if p.Severity == s {
			out = append(out, p)
		}
	}
	return out
}

// Err returns the error-severity problems as an error (a Problems value), or nil when there are none.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, then key, keeping the original order of equal entries.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Key < ps[j].Key
	})
}

// InvalidError is returned when a config cannot be used; Problems say why (file, key, message).
type InvalidError struct {
	What     string // e.g. `sink "pg" version 2`
	Problems Problems
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("invalid configuration of %s:\n%s", e.What, e.Problems.Errors().Error())
}
