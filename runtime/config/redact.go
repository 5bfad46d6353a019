package config

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"reflect"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Redaction: every rendering of a config for humans (String, LogValue, Redacted) hides secrets;
// the files the providers write and the JSON of the API keep them.
//
// Secret are: keys tagged secret:"true" in the main config (http.api_key, iggy.password,
// iggy.token, the values of connectors.request_headers); plugin_config keys whose name looks
// secret (password, secret, token, api key, private/access key, credentials ...); passwords inside
// URLs and connection strings anywhere ("postgres://u:***@db/app", "password=*** host=db"); and
// the plugin_config keys listed in ConnectorConfig.SecretKeys (the fields a plugin marks secret).

// Redacted is what a secret value is replaced with.
const Redacted = "***"

var secretKeyPattern = regexp.MustCompile(`(?i)(pass(word|wd|phrase)?$|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|auth(orization)?$|cookie|sas)`)

// kvPasswordPattern finds password=... in key/value connection strings (libpq, JDBC, ODBC).
var kvPasswordPattern = regexp.MustCompile(`(?i)\b(password|pwd)\s*=\s*('[^']*'|"[^"]*"|[^\s;&]*)`)

// IsSecretKey reports whether a plugin_config key name looks like it holds a secret.
func IsSecretKey(key string) bool { return secretKeyPattern.MatchString(key) }

// RedactString hides passwords embedded in a string value: the password of a URL with userinfo,
// and password=... pairs of key/value connection strings. Other strings are returned unchanged.
func RedactString(s string) string {
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), Redacted)
				return strings.Replace(u.String(), url.QueryEscape(Redacted), Redacted, 1)
			}
		}
	}
	if kvPasswordPattern.MatchString(s) {
		return kvPasswordPattern.ReplaceAllString(s, "${1}="+Redacted)
	}
	return s
}

// redactTree returns a redacted deep copy of a plugin_config value.
func redactTree(v any, extra map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if extra[k] || IsSecretKey(k) {
				if e == nil || e == "" {
					out[k] = e
				} else {
					out[k] = Redacted
				}
				continue
			}
			out[k] = redactTree(e, extra)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactTree(e, extra)
		}
		return out
	case string:
		return RedactString(x)
	}
	return v
}

// Redacted returns a copy with secrets replaced by "***" (see the package notes on redaction).
func (c *ConnectorConfig) Redacted() *ConnectorConfig {
	n := c.Clone()
	extra := map[string]bool{}
	for _, k := range c.SecretKeys {
		extra[k] = true
	}
	n.PluginConfig = redactTree(n.PluginConfig, extra).(map[string]any)
	for i := range n.Transforms {
		n.Transforms[i].Config = redactTree(n.Transforms[i].Config, nil).(map[string]any)
	}
	n.Path = RedactString(n.Path)
	return n
}

// MarkSecret adds plugin_config keys to redact (e.g. the fields a plugin's info marks secret).
func (c *ConnectorConfig) MarkSecret(keys ...string) { c.SecretKeys = append(c.SecretKeys, keys...) }

// String renders the config as one line of JSON with secrets redacted.
func (c *ConnectorConfig) String() string {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		return c.ID() + " (unrenderable: " + err.Error() + ")"
	}
	return c.ID() + " " + string(b)
}

// LogValue makes slog print the redacted config.
func (c *ConnectorConfig) LogValue() slog.Value {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		return slog.StringValue(c.ID())
	}
	return slog.GroupValue(slog.String("kind", string(c.Kind)), slog.String("key", c.Key),
		slog.Uint64("version", c.Version), slog.String("config", string(b)))
}

// Redacted returns a copy of the main config with secrets replaced by "***".
func (c *Config) Redacted() *Config {
	n := c.Clone()
	redactStruct(reflect.ValueOf(n).Elem())
	return n
}

func redactStruct(v reflect.Value) {
	for _, f := range fieldsOf(v.Type(), "") {
		fv := v.FieldByIndex(f.index)
		switch fv.Kind() {
		case reflect.Struct:
			if fv.Type() != reflect.TypeFor[Duration]() {
				redactStruct(fv)
			}
		case reflect.String:
			if f.secret && fv.String() != "" {
				fv.SetString(Redacted)
			} else {
				fv.SetString(RedactString(fv.String()))
			}
		case reflect.Map:
			if f.secret && fv.Type().Elem().Kind() == reflect.String {
				for _, k := range fv.MapKeys() {
					fv.SetMapIndex(k, reflect.ValueOf(Redacted))
				}
			}
		}
	}
}

// Clone returns a deep copy of the main config.
func (c *Config) Clone() *Config {
	n := *c
	cl := func(s []string) []string {
		if s == nil {
			return nil
		}
		return append([]string{}, s...)
	}
	n.HTTP.CORS.AllowedMethods = cl(c.HTTP.CORS.AllowedMethods)
	n.HTTP.CORS.AllowedOrigins = cl(c.HTTP.CORS.AllowedOrigins)
	n.HTTP.CORS.AllowedHeaders = cl(c.HTTP.CORS.AllowedHeaders)
	n.HTTP.CORS.ExposedHeaders = cl(c.HTTP.CORS.ExposedHeaders)
	cm := func(m map[string]string) map[string]string {
		if m == nil {
			return nil
		}
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	n.Connectors.RequestHeaders = cm(c.Connectors.RequestHeaders)
	n.Connectors.URLTemplates = cm(c.Connectors.URLTemplates)
	return &n
}

// String renders the main config as one line of JSON with secrets redacted.
func (c *Config) String() string {
	b, err := json.Marshal(c.Redacted().jsonTree())
	if err != nil {
		return "config (unrenderable: " + err.Error() + ")"
	}
	return string(b)
}

// LogValue makes slog print the redacted config.
func (c *Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// TOML renders the effective config as a TOML document with secrets redacted (for
// IGGY_DISPLAY_CONFIG and `validate`).
func (c *Config) TOML() string {
	b, err := toml.Marshal(c.Redacted())
	if err != nil {
		return "# unrenderable: " + err.Error()
	}
	return string(b)
}

// jsonTree renders the config as a tree keyed by the TOML key names.
func (c *Config) jsonTree() map[string]any {
	return structTree(reflect.ValueOf(c).Elem()).(map[string]any)
}

func structTree(v reflect.Value) any {
	if v.Type() == reflect.TypeFor[Duration]() {
		return v.Interface().(Duration).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		m := map[string]any{}
		for _, f := range fieldsOf(v.Type(), "") {
			m[f.key] = structTree(v.FieldByIndex(f.index))
		}
		return m
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = structTree(v.Index(i))
		}
		return out
	case reflect.Map:
		m := map[string]any{}
		for _, k := range v.MapKeys() {
			m[k.String()] = structTree(v.MapIndex(k))
		}
		return m
	}
	return v.Interface()
}
