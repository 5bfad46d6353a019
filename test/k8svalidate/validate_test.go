package k8svalidate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const manifests = "../../configs/kubernetes"

// TestManifests validates the shipped manifests.
func TestManifests(t *testing.T) {
	if err := Validate(manifests); err != nil {
		t.Fatalf("configs/kubernetes:\n%v", err)
	}
	docs, _ := ReadDir(manifests)
	s, _ := Decode(docs)
	t.Logf("%d documents: %d Deployment(s), %d StatefulSet(s), %d ConfigMap(s), %d Secret(s), %d Service(s)",
		len(docs), len(s.Deployments), len(s.StatefulSets), len(s.ConfigMaps), len(s.Secrets), len(s.Services))
}

// TestBrokenManifests proves the validator catches what it claims to: each case edits one file of
// a copy of the manifests and expects an error that mentions want.
func TestBrokenManifests(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"misspelled field", "sinks-deployment.yaml", "readinessProbe:", "readynessProbe:", "unknown field"},
		{"wrong type", "sinks-deployment.yaml", "replicas: 3", "replicas: three", "replicas"},
		{"one sink replica", "sinks-deployment.yaml", "replicas: 3", "replicas: 1", "at least 2"},
		{"two source replicas", "sources-statefulset.yaml", "replicas: 1 #", "replicas: 2 #", "exactly 1"},
		{"wrong readiness path", "sinks-deployment.yaml", "path: /ready", "path: /health", "readinessProbe"},
		{"no scrape annotation", "sources-statefulset.yaml", `prometheus.io/scrape: "true"`, `prometheus.io/scrape: "false"`, "prometheus.io"},
		{"source among sinks", "configmap-sinks.yaml", `type = "sink"`, `type = "source"`, "runs sinks only"},
		{"bad TOML", "configmap-sources.yaml", `key = "pgsrc"`, `key = pgsrc`, "pg_source.toml"},
		{"secret not IGGY_CONNECTORS_", "secret.yaml", "IGGY_CONNECTORS_IGGY_PASSWORD", "IGGY_PASSWORD", "not an IGGY_CONNECTORS_"},
		{"missing secret", "sinks-deployment.yaml", "secretRef:\n                name: iggy-connectors\n", "secretRef:\n                name: iggy-connectors-missing\n", "not in the manifests"},
		{"state not on a claim", "sources-statefulset.yaml", "name: state\n      spec:", "name: data\n      spec:", "volumeClaimTemplate"},
		{"bad name", "configmap-sinks.yaml", "name: iggy-connectors-sinks", "name: Iggy_Connectors_Sinks", "name"},
		{"instance not from pod name", "sinks-deployment.yaml", "fieldPath: metadata.name", "fieldPath: metadata.namespace", "IGGY_CONNECTORS_INSTANCE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			entries, err := os.ReadDir(manifests)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(manifests, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() == c.file {
					if !strings.Contains(string(b), c.old) {
						t.Fatalf("%s does not contain %q", c.file, c.old)
					}
					b = []byte(strings.Replace(string(b), c.old, c.new, 1))
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err = Validate(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error mentioning %q, got %v", c.want, err)
			}
		})
	}
}
