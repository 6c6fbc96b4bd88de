#!/usr/bin/env bash
# tests/e2e/suite-kube.sh - `azpool run --source kube` against kubesim and armsim
# (tests/e2e/kube_e2e.py). Prints "N passed, N failed" last.
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
exec /usr/bin/python3 tests/e2e/kube_e2e.py "$BUILD"
