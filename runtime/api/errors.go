package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/iggy-go/connectors/runtime/config"
	"github.com/iggy-go/connectors/runtime/config/provider"
)

// errorBody is the original's error shape.
type errorBody struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Error codes (the original's, plus unsupported_media_type and bad_request for request bodies and
// invalid_key for a connector key that does not match config.KeyPattern).
const (
	codeInvalidConfig  = "invalid_configuration"
	codeHTTPRequest    = "http_request_failed"
	codeError          = "error"
	codeJSON           = "json_error"
	codeBadRequest     = "bad_request"
	codeUnsupportedMed = "unsupported_media_type"
	codeInvalidKey     = "invalid_key"
)

func notFoundCode(kind config.Kind) string { return string(kind) + "_not_found" }

func configNotFoundCode(kind config.Kind) string { return string(kind) + "_config_not_found" }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeJSON, err.Error())
		return
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, reason string) {
	b, _ := json.Marshal(errorBody{Code: code, Reason: reason})
	writeRawJSON(w, status, b)
}

// notFound answers 404 {kind}_not_found for a connector the runtime does not know.
func notFound(w http.ResponseWriter, kind config.Kind, key string) {
	writeError(w, http.StatusNotFound, notFoundCode(kind), fmt.Sprintf("%s with key %q was not found", kind, key))
}

// writeProviderError maps a config provider (or engine restart) error to the original's status and
// code: missing connector or version → 404, invalid config → 400, a failed request to the HTTP
// config service → 500 http_request_failed, anything else → 500 error.
func writeProviderError(w http.ResponseWriter, kind config.Kind, err error) {
	var nf *provider.NotFoundError
	var inv *config.InvalidError
	var he *provider.HTTPError
	switch {
	case errors.As(err, &nf) && nf.Version != nil:
		writeError(w, http.StatusNotFound, configNotFoundCode(kind), err.Error())
	case errors.Is(err, provider.ErrNotFound):
		writeError(w, http.StatusNotFound, notFoundCode(kind), err.Error())
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, codeInvalidConfig, err.Error())
	case errors.As(err, &he):
		writeError(w, http.StatusInternalServerError, codeHTTPRequest, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, codeError, err.Error())
	}
}
