// Package k8svalidate checks the Kubernetes manifests of configs/kubernetes offline, without a
// cluster and without downloaded JSON schemas: every document is decoded strictly (unknown or
// duplicate fields are errors) into the official Go types of the Kubernetes API (k8s.io/api, the
// types the API server itself decodes into), names and labels are checked with apimachinery's
// validation functions, and the rules of the scale-out layout (docs/scaleout.md) are enforced:
// sinks in a Deployment of several replicas, sources in a single-replica StatefulSet with a state
// volume, connector files from ConfigMaps, IGGY_CONNECTORS_* secrets from a Secret, probes on
// /health and /ready, Prometheus annotations, and the instance identity from the pod name.
//
// It is its own module (k8s.io/api stays out of the runtime's build) and is not in go.work; CI runs
// it through scripts/test.d/kubernetes.sh.
package k8svalidate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Doc is one YAML document of a manifest file.
type Doc struct {
	File  string // base name
	Index int    // position in the file (0-based)
	Body  []byte
}

func (d Doc) String() string { return fmt.Sprintf("%s (document %d)", d.File, d.Index+1) }

// Kustomization is the part of kustomize's file this layout uses.
type Kustomization struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels,omitempty"`
	Resources []string `json:"resources"`
}

// Set is every object of a manifest directory, decoded.
type Set struct {
	Kustomization *Kustomization
	ConfigMaps    map[string]*corev1.ConfigMap
	Secrets       map[string]*corev1.Secret
	Services      map[string]*corev1.Service
	Deployments   map[string]*appsv1.Deployment
	StatefulSets  map[string]*appsv1.StatefulSet
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// ReadDir returns the documents of every *.yaml file in dir, in file-name order.
func ReadDir(dir string) ([]Doc, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var docs []Doc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, part := range docSep.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(part)) == "" {
				continue
			}
			docs = append(docs, Doc{File: filepath.Base(f), Index: i, Body: []byte(part)})
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s: no *.yaml manifests", dir)
	}
	return docs, nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// Decode decodes every document strictly into its API type; the errors name file and document.
func Decode(docs []Doc) (*Set, []error) {
	s := &Set{ConfigMaps: map[string]*corev1.ConfigMap{}, Secrets: map[string]*corev1.Secret{},
		Services: map[string]*corev1.Service{}, Deployments: map[string]*appsv1.Deployment{},
		StatefulSets: map[string]*appsv1.StatefulSet{}}
	var errs []error
	for _, d := range docs {
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(d.Body, &tm); err != nil {
			errs = append(errs, fmt.Errorf("%s: not YAML: %w", d, err))
			continue
		}
		want := map[string]string{"ConfigMap": "v1", "Secret": "v1", "Service": "v1", "Deployment": "apps/v1",
			"StatefulSet": "apps/v1", "Kustomization": "kustomize.config.k8s.io/v1beta1"}[tm.Kind]
		if want == "" {
			errs = append(errs, fmt.Errorf("%s: kind %q is not part of this layout", d, tm.Kind))
			continue
		}
		if tm.APIVersion != want {
			errs = append(errs, fmt.Errorf("%s: %s has apiVersion %q, want %q", d, tm.Kind, tm.APIVersion, want))
			continue
		}
		var (
			obj  any
			name *string
			keep func()
		)
		switch tm.Kind {
		case "Kustomization":
			o := &Kustomization{}
			obj, keep = o, func() { s.Kustomization = o }
		case "ConfigMap":
			o := &corev1.ConfigMap{}
			obj, name, keep = o, &o.Name, func() { s.ConfigMaps[o.Name] = o }
		case "Secret":
			o := &corev1.Secret{}
			obj, name, keep = o, &o.Name, func() { s.Secrets[o.Name] = o }
		case "Service":
			o := &corev1.Service{}
			obj, name, keep = o, &o.Name, func() { s.Services[o.Name] = o }
		case "Deployment":
			o := &appsv1.Deployment{}
			obj, name, keep = o, &o.Name, func() { s.Deployments[o.Name] = o }
		case "StatefulSet":
			o := &appsv1.StatefulSet{}
			obj, name, keep = o, &o.Name, func() { s.StatefulSets[o.Name] = o }
		}
		if err := yaml.UnmarshalStrict(d.Body, obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", d, tm.Kind, err))
			continue
		}
		keep()
		if name != nil {
			for _, msg := range validation.IsDNS1123Subdomain(*name) {
				errs = append(errs, fmt.Errorf("%s: %s name %q: %s", d, tm.Kind, *name, msg))
			}
		}
	}
	return s, errs
}

// Check enforces the layout's rules on a decoded set (dir is where the manifests are, for the
// kustomization's resources).
func Check(s *Set, dir string) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if s.Kustomization == nil {
		fail("kustomization.yaml is missing")
	} else {
		for _, r := range s.Kustomization.Resources {
			if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
				fail("kustomization.yaml: resource %s: %v", r, err)
			}
		}
	}
	for name, sec := range s.Secrets {
		for k := range sec.StringData {
			if !strings.HasPrefix(k, "IGGY_CONNECTORS_") {
				fail("Secret %s: key %s is not an IGGY_CONNECTORS_* variable", name, k)
			}
		}
	}
	if len(s.Deployments) == 0 {
		fail("no Deployment for the sink runtimes")
	}
	if len(s.StatefulSets) == 0 {
		fail("no StatefulSet for the source runtime")
	}
	for name, d := range s.Deployments {
		where := "Deployment " + name
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			fail("%s: replicas must be set and at least 2 (sink runtimes share the work)", where)
		}
		errs = append(errs, checkPod(s, where, d.Spec.Selector.MatchLabels, &d.Spec.Template, "sink")...)
	}
	for name, st := range s.StatefulSets {
		where := "StatefulSet " + name
		if st.Spec.Replicas == nil || *st.Spec.Replicas != 1 {
			fail("%s: replicas must be exactly 1 (a source runs in one runtime at a time)", where)
		}
		if svc, ok := s.Services[st.Spec.ServiceName]; !ok {
			fail("%s: serviceName %q names no Service", where, st.Spec.ServiceName)
		} else if svc.Spec.ClusterIP != corev1.ClusterIPNone {
			fail("%s: Service %s must be headless (clusterIP: None)", where, svc.Name)
		}
		var claims []string
		for _, c := range st.Spec.VolumeClaimTemplates {
			claims = append(claims, c.Name)
		}
		state := stateMount(&st.Spec.Template)
		if state == "" || !slices.Contains(claims, state) {
			fail("%s: the state path (IGGY_CONNECTORS_STATE_PATH) must be mounted from a volumeClaimTemplate (have %v, state volume %q)", where, claims, state)
		}
		errs = append(errs, checkPod(s, where, st.Spec.Selector.MatchLabels, &st.Spec.Template, "source")...)
	}
	return errs
}

// checkPod checks a workload's pod template: selector, annotations, container, probes, env, and that
// its connector ConfigMap holds only connectors of kind.
func checkPod(s *Set, where string, selector map[string]string, t *corev1.PodTemplateSpec, kind string) []error {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+": "+format, a...)) }
	for k, v := range selector {
		if t.Labels[k] != v {
			fail("selector %s=%s does not match the pod template's labels %v", k, v, t.Labels)
		}
	}
	for k, v := range t.Labels {
		for _, msg := range validation.IsQualifiedName(k) {
			fail("label key %q: %s", k, msg)
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			fail("label %s value %q: %s", k, v, msg)
		}
	}
	if len(t.Spec.Containers) != 1 {
		fail("want one container, have %d", len(t.Spec.Containers))
		return errs
	}
	c := t.Spec.Containers[0]
	var httpPort int32
	for _, p := range c.Ports {
		if p.Name == "http" {
			httpPort = p.ContainerPort
		}
	}
	if httpPort == 0 {
		fail("container %s has no port named http", c.Name)
	}
	if t.Annotations["prometheus.io/scrape"] != "true" || t.Annotations["prometheus.io/path"] != "/metrics" ||
		t.Annotations["prometheus.io/port"] != strconv.Itoa(int(httpPort)) {
		fail("pod annotations must be prometheus.io/scrape \"true\", path \"/metrics\", port %q (the http port); have %v", strconv.Itoa(int(httpPort)), t.Annotations)
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || (p.HTTPGet.Port.String() != "http" && p.HTTPGet.Port.IntValue() != int(httpPort)) {
			fail("%s must be an HTTP GET of %s on the http port", name, path)
		}
	}
	probe("livenessProbe", c.LivenessProbe, "/health")
	probe("readinessProbe", c.ReadinessProbe, "/ready")
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "IGGY_CONNECTORS_") {
			fail("env %s is not an IGGY_CONNECTORS_* variable", e.Name)
		}
		env[e.Name] = e
	}
	if e := env["IGGY_CONNECTORS_INSTANCE"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		fail("IGGY_CONNECTORS_INSTANCE must come from the pod name (fieldRef metadata.name)")
	}
	if v := env["IGGY_CONNECTORS_HTTP_ADDRESS"].Value; !strings.HasSuffix(v, ":"+strconv.Itoa(int(httpPort))) || strings.HasPrefix(v, "127.") {
		fail("IGGY_CONNECTORS_HTTP_ADDRESS %q must listen on all interfaces on the http port (probes)", v)
	}
	if env["IGGY_CONNECTORS_HTTP_METRICS_ENABLED"].Value != "true" {
		fail("IGGY_CONNECTORS_HTTP_METRICS_ENABLED must be \"true\" (the pods are annotated for scraping)")
	}
	secret := false
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			if _, ok := s.Secrets[ef.SecretRef.Name]; !ok {
				fail("envFrom names Secret %q, which is not in the manifests", ef.SecretRef.Name)
			}
			secret = true
		}
	}
	if !secret {
		fail("the IGGY_CONNECTORS_* secrets must come from a Secret (envFrom secretRef)")
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range t.Spec.Volumes {
		volumes[v.Name] = v
	}
	configDir := env["IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR"].Value
	found := false
	for _, m := range c.VolumeMounts {
		if m.MountPath != configDir {
			continue
		}
		v, ok := volumes[m.Name]
		if !ok || v.ConfigMap == nil {
			fail("the connector directory %s must be mounted from a ConfigMap", configDir)
			continue
		}
		cm, ok := s.ConfigMaps[v.ConfigMap.Name]
		if !ok {
			fail("volume %s names ConfigMap %q, which is not in the manifests", m.Name, v.ConfigMap.Name)
			continue
		}
		found = true
		for _, err := range checkConnectors(cm, kind) {
			fail("%v", err)
		}
	}
	if configDir == "" || !found {
		fail("IGGY_CONNECTORS_CONNECTORS_CONFIG_DIR (%q) must be a mounted ConfigMap", configDir)
	}
	return errs
}

// stateMount returns the name of the volume mounted at the template's IGGY_CONNECTORS_STATE_PATH.
func stateMount(t *corev1.PodTemplateSpec) string {
	for _, c := range t.Spec.Containers {
		for _, e := range c.Env {
			if e.Name != "IGGY_CONNECTORS_STATE_PATH" {
				continue
			}
			for _, m := range c.VolumeMounts {
				if m.MountPath == e.Value {
					return m.Name
				}
			}
		}
	}
	return ""
}

// checkConnectors parses every *.toml of cm and requires connectors of kind with the keys every
// connector file needs.
func checkConnectors(cm *corev1.ConfigMap, kind string) []error {
	var errs []error
	if len(cm.Data) == 0 {
		errs = append(errs, fmt.Errorf("ConfigMap %s holds no connector file", cm.Name))
	}
	for file, body := range cm.Data {
		if !strings.HasSuffix(file, ".toml") {
			errs = append(errs, fmt.Errorf("ConfigMap %s: %s is not a .toml connector file", cm.Name, file))
			continue
		}
		var c struct {
			Type, Key, Name, Path string
			Enabled               *bool
			Version               *int64
			Streams               []map[string]any
		}
		dec := toml.NewDecoder(bytes.NewReader([]byte(body)))
		if err := dec.Decode(&c); err != nil {
			errs = append(errs, fmt.Errorf("ConfigMap %s: %s: %w", cm.Name, file, err))
			continue
		}
		var missing []string
		for k, ok := range map[string]bool{"key": c.Key != "", "name": c.Name != "", "path": c.Path != "",
			"enabled": c.Enabled != nil, "version": c.Version != nil, "streams": len(c.Streams) > 0} {
			if !ok {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("ConfigMap %s: %s: missing %s", cm.Name, file, strings.Join(missing, ", ")))
		}
		if c.Type != kind {
			errs = append(errs, fmt.Errorf("ConfigMap %s: %s is a %q connector; this workload runs %ss only", cm.Name, file, c.Type, kind))
		}
	}
	return errs
}

// Validate reads, decodes and checks dir; nil when everything holds.
func Validate(dir string) error {
	docs, err := ReadDir(dir)
	if err != nil {
		return err
	}
	s, errs := Decode(docs)
	errs = append(errs, Check(s, dir)...)
	return errors.Join(errs...)
}
