package config

import (
	"sort"

	"github.com/iggy-go/connectors/sdk"
)

// DefaultURLTemplates are the HTTP config provider's request paths (appended to
// connectors.base_url), keyed by the names used in connectors.url_templates. {key} and {version}
// are replaced verbatim (no escaping), as in the original. Delete requests get "?version=N" when a
// version is given.
var DefaultURLTemplates = map[string]string{
	"create_sink":              "/sinks/{key}/configs",
	"create_source":            "/sources/{key}/configs",
	"get_active_configs":       "/configs/active",
	"get_active_versions":      "/configs/active/versions",
	"set_active_sink":          "/sinks/{key}/configs/active",
	"set_active_source":        "/sources/{key}/configs/active",
	"get_sink_configs":         "/sinks/{key}/configs",
	"get_sink_config":          "/sinks/{key}/configs/{version}",
	"get_active_sink_config":   "/sinks/{key}/configs/active",
	"get_source_configs":       "/sources/{key}/configs",
	"get_source_config":        "/sources/{key}/configs/{version}",
	"get_active_source_config": "/sources/{key}/configs/active",
	"delete_sink_config":       "/sinks/{key}/configs",
	"delete_source_config":     "/sources/{key}/configs",
}

// URLTemplateNames lists the names accepted in connectors.url_templates, sorted.
func URLTemplateNames() []string {
	out := make([]string, 0, len(DefaultURLTemplates))
	for k := range DefaultURLTemplates {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isURLTemplateName(n string) bool {
	_, ok := DefaultURLTemplates[n]
	return ok
}

func suggest(s string, candidates []string) string { return sdk.Suggest(s, candidates) }
