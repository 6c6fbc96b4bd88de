#!/usr/bin/env bash
# tests/e2e/suite-kube-rbac.sh - `azpool run --source kube` as the ServiceAccount of
# manifests/ against kubesim --rbac --tls and armsim: the controller works with exactly the
# permissions manifests/rbac.yaml grants (tests/e2e/kube_rbac_e2e.py; kubectl 1.32 for
# `apply -k` and `create token`, KUBECTL_132 overrides). Prints "N passed, N failed" last.
set -u
BUILD=${BUILD:-build}
K132=${KUBECTL_132:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
cd "$(dirname "$0")/../.."
for b in "$BUILD/azpool" "$BUILD/armsim" "$BUILD/kubesim" "$K132"; do
    if [ ! -x "$b" ]; then
        echo "FAIL setup: $b is missing (make BUILD=$BUILD; kubectl 1.32 from google-cloud-cli)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
exec /usr/bin/python3 tests/e2e/kube_rbac_e2e.py "$BUILD" "$K132"
