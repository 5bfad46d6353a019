# Kubernetes manifests of configs/kubernetes, validated offline (no cluster, no downloaded schemas):
# strict decoding into the k8s.io/api types plus the scale-out layout's rules (test/k8svalidate, its
# own module outside go.work so that k8s.io/api stays out of the runtime's build list).
suite 'kubernetes manifests (offline validation)' - 'cd test/k8svalidate && GOWORK=off go test -count=1 ./...'
