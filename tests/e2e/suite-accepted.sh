#!/usr/bin/env bash
# tests/e2e/suite-accepted.sh - writes accepted, not followed (controller/exec.h):
# no operation polling, prompt readiness, a second scale-set write waits for the
# first one's operation, a failed provisioning is repaired through observation
# (tests/e2e/accepted_e2e.py). Prints "N passed, N failed" last.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
for b in azpool armsim; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "FAIL setup: $BUILD/$b is missing (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
exec /usr/bin/python3 tests/e2e/accepted_e2e.py "$BUILD"
