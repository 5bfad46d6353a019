package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/joho/godotenv"
	"github.com/pelletier/go-toml/v2"

	"github.com/iggy-go/connectors/configs"
)

// DefaultConfigPath is the main config file used when neither Options.Path nor
// IGGY_CONNECTORS_CONFIG_PATH names one. Like every relative path it is looked up in the working
// directory and then in each of its ancestors.
const DefaultConfigPath = "configs/config.toml"

// DefaultsFile is the Problem.File of the embedded defaults.
const DefaultsFile = "<defaults>"

// Options controls Load.
type Options struct {
	// Path of the main config file; "" = IGGY_CONNECTORS_CONFIG_PATH, else DefaultConfigPath.
	// A relative path is looked up in Dir and every ancestor directory. A missing file is a
	// warning: the defaults and the environment are used.
	Path string
	// Env is the environment to use. nil = the process environment, after loading the dotenv file
	// into the process (variables already set win), as the original does. A non-nil map is not
	// modified: dotenv values are added to a copy (again without overriding).
	Env map[string]string
	// Dir is where relative paths and .env are searched from; "" = the working directory.
	Dir string
	// NoDotEnv skips the dotenv file.
	NoDotEnv bool
}

// Loaded is the result of Load.
type Loaded struct {
	Config *Config
	// File is the config file that was read ("" = none: defaults and environment only).
	File string
	// DotEnv is the dotenv file that was loaded ("" = none).
	DotEnv string
	// Env is the environment the config was built from, including dotenv values. Pass it to the
	// connector config provider (per-connector overrides).
	Env map[string]string
	// Problems found, warnings included. Load's error is the error-severity subset.
	Problems Problems
}

// Load builds the main config: embedded defaults (configs/config.toml) ← config file ←
// IGGY_CONNECTORS_* environment variables (see the notes in env.go), then validates it. It never
// opens network connections. The returned Loaded is non-nil even on error, so callers (validate)
// can list every problem; the error is non-nil when any problem is an error, and then Config must
// not be used to run.
func Load(opts Options) (*Loaded, error) {
	res := &Loaded{}
	dir := opts.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return res, fmt.Errorf("config: working directory: %w", err)
		}
		dir = wd
	}
	env := opts.Env
	process := env == nil
	if process {
		env = Environ()
	} else {
		env = copyEnv(env)
	}
	if !opts.NoDotEnv {
		file, vals, ps := readDotEnv(env, dir)
		res.Problems = append(res.Problems, ps...)
		res.DotEnv = file
		for k, v := range vals {
			if _, set := env[k]; set {
				continue
			}
			env[k] = v
			if process {
				_ = os.Setenv(k, v)
			}
		}
	}
	res.Env = env

	path := opts.Path
	if path == "" {
		path = env[EnvConfigPath]
	}
	if path == "" {
		path = DefaultConfigPath
	}
	tree, ps := defaultsTree()
	res.Problems = append(res.Problems, ps...)
	file := DefaultsFile
	if found, ok := findUp(dir, path); ok {
		data, err := os.ReadFile(found)
		if err != nil {
			res.Problems.Add(found, "", "cannot read: %v", err)
		} else {
			userTree := map[string]any{}
			if err := toml.Unmarshal(data, &userTree); err != nil {
				res.Problems.Add(found, tomlErrorKey(err, data), "%s", tomlErrorMessage(err))
			} else {
				mergeTree(tree, userTree)
			}
		}
		res.File, file = found, found
	} else {
		res.Problems.Warn(path, "", "config file not found (searched %s and its parent directories); using defaults and environment", dir)
	}

	envT, envSet, envPs := MainEnvOverrides(env)
	res.Problems = append(res.Problems, envPs...)
	mergeTree(tree, envT)

	cfg := &Config{}
	var decPs Problems
	dec := &decoder{file: file, problems: &decPs, envSet: envSet, envPrefix: EnvPrefix}
	dec.decodeStruct("", tree, reflect.ValueOf(cfg).Elem(), false)
	res.Problems = append(res.Problems, decPs...)
	if cfg.Logging.Level == "" {
		cfg.Logging.Level = levelFromRustLog(env["RUST_LOG"])
	}
	res.Problems = append(res.Problems, cfg.Validate(file)...)
	res.Config = cfg
	return res, res.Problems.Err()
}

// Default returns the defaults (configs/config.toml) with logging.level "info".
func Default() *Config {
	tree, ps := defaultsTree()
	cfg := &Config{}
	dec := &decoder{file: DefaultsFile, problems: &ps}
	dec.decodeStruct("", tree, reflect.ValueOf(cfg).Elem(), false)
	if len(ps) > 0 {
		panic("config: embedded defaults are invalid: " + ps.Error())
	}
	cfg.Logging.Level = "info"
	return cfg
}

func defaultsTree() (map[string]any, Problems) {
	var ps Problems
	tree := map[string]any{}
	if err := toml.Unmarshal(configs.DefaultConfig, &tree); err != nil {
		ps.Add(DefaultsFile, "", "%s", tomlErrorMessage(err))
	}
	return tree, ps
}

// levelFromRustLog returns RUST_LOG when it is a plain level ("debug", "WARN"), else "info".
func levelFromRustLog(v string) string {
	l := strings.ToLower(strings.TrimSpace(v))
	switch l {
	case "trace", "debug", "info", "warn", "error", "off":
		return l
	case "warning":
		return "warn"
	}
	return "info"
}

// DisplayConfig reports whether the effective main config should be printed at startup:
// IGGY_DISPLAY_CONFIG unset, "1" or "true" (any case) → true; anything else → false.
func DisplayConfig(env map[string]string) bool {
	v, ok := env[EnvDisplay]
	if !ok {
		return true
	}
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "1" || v == "true"
}

// readDotEnv reads the dotenv file: IGGY_CONNECTORS_ENV_PATH if set (only that one; failure is a
// warning), else the first .env found in dir or an ancestor.
func readDotEnv(env map[string]string, dir string) (string, map[string]string, Problems) {
	var ps Problems
	if p := env[EnvEnvPath]; p != "" {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		vals, err := godotenv.Read(p)
		if err != nil {
			ps.Warn(p, "", "cannot load the dotenv file named by %s: %v", EnvEnvPath, err)
			return "", nil, ps
		}
		return p, vals, ps
	}
	p, ok := findUp(dir, ".env")
	if !ok {
		return "", nil, nil
	}
	vals, err := godotenv.Read(p)
	if err != nil {
		ps.Warn(p, "", "cannot load: %v", err)
		return "", nil, ps
	}
	return p, vals, ps
}

// findUp returns path if absolute and existing, else the first dir/path, dir/../path ... that is
// a regular file.
func findUp(dir, path string) (string, bool) {
	if filepath.IsAbs(path) {
		return path, isFile(path)
	}
	for d := dir; ; {
		p := filepath.Join(d, path)
		if isFile(p) {
			return p, true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", false
		}
		d = parent
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func copyEnv(env map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[k] = v
	}
	return out
}
