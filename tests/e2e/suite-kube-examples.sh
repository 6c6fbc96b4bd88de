#!/usr/bin/env bash
# tests/e2e/suite-kube-examples.sh - Kubernetes mode with the shipped examples, driven by
# kubectl 1.32 against kubesim + armsim (tests/e2e/kube_examples_e2e.py): apply crds/ and
# manifests/examples/, Ready + observedGeneration + kstatus, scale, three image rollouts
# disturbed mid-way (watches dropped + compaction, kubesim restart from --state, SIGKILL of
# the leader with a standby replica) with the minimal ARM writes, delete that waits for
# Azure. Prints "N passed, N failed" last.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
for b in azpool armsim kubesim; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "FAIL setup: $BUILD/$b is missing (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
exec /usr/bin/python3 tests/e2e/kube_examples_e2e.py "$BUILD"
