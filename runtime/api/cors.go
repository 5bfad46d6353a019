package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/iggy-go/connectors/runtime/config"
)

// cors applies [http.cors] like the original's tower-http layer: every OPTIONS request is a
// preflight answered here (200, empty body, before the api-key check); other responses get the
// allow-origin, allow-credentials and expose-headers headers. Browsers enforce the policy; the
// server does not reject requests from other origins.
type cors struct {
	enabled        bool
	anyOrigin      bool
	origins        []string
	methods        string
	headers        string
	exposed        string
	credentials    bool
	privateNetwork bool
}

func nonEmpty(xs []string, upper bool) []string {
	var out []string
	for _, x := range xs {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		if upper {
			x = strings.ToUpper(x)
		}
		out = append(out, x)
	}
	return out
}

// newCORS checks and compiles the config. An origin list starting with "*" allows any origin, an
// empty list none; a "*" later in the list and credentials with any origin are refused (the
// original panicked on both).
func newCORS(c config.CORSConfig) (*cors, error) {
	if !c.Enabled {
		return &cors{}, nil
	}
	out := &cors{enabled: true, credentials: c.AllowCredentials, privateNetwork: c.AllowPrivateNetwork,
		methods: strings.Join(nonEmpty(c.AllowedMethods, true), ","),
		headers: strings.Join(nonEmpty(c.AllowedHeaders, false), ","),
		exposed: strings.Join(nonEmpty(c.ExposedHeaders, false), ",")}
	origins := nonEmpty(c.AllowedOrigins, false)
	switch {
	case len(origins) > 0 && origins[0] == "*":
		out.anyOrigin = true
	case slices.Contains(origins, "*"):
		return nil, errors.New(`http.cors.allowed_origins: "*" must be the first (and only) entry`)
	default:
		out.origins = origins
	}
	if out.anyOrigin && out.credentials {
		return nil, errors.New(`http.cors: allow_credentials = true cannot be combined with allowed_origins = ["*"] (browsers refuse it); list the origins`)
	}
	return out, nil
}

// allowOrigin returns the Access-Control-Allow-Origin value for a request's Origin ("" = none).
func (c *cors) allowOrigin(origin string) string {
	if c.anyOrigin {
		return "*"
	}
	if origin != "" && slices.Contains(c.origins, origin) {
		return origin
	}
	return ""
}

func (c *cors) wrap(next http.Handler) http.Handler {
	if !c.enabled {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "origin, access-control-request-method, access-control-request-headers")
		if o := c.allowOrigin(r.Header.Get("Origin")); o != "" {
			h.Set("Access-Control-Allow-Origin", o)
		}
		if c.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method != http.MethodOptions {
			if c.exposed != "" {
				h.Set("Access-Control-Expose-Headers", c.exposed)
			}
			next.ServeHTTP(w, r)
			return
		}
		if c.methods != "" {
			h.Set("Access-Control-Allow-Methods", c.methods)
		}
		if c.headers != "" {
			h.Set("Access-Control-Allow-Headers", c.headers)
		}
		if c.privateNetwork && r.Header.Get("Access-Control-Request-Private-Network") == "true" {
			h.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusOK)
	})
}
