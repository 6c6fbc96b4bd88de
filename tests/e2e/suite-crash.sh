#!/usr/bin/env bash
# tests/e2e/suite-crash.sh - kill -9 of `azpool run` at random moments of
# convergence, 20 times, against armsim (tests/e2e/crash_e2e.py; 200 kills:
# hack/crash-200.sh). CRASH_SEED=N replays a schedule. Prints "N passed, N failed" last.
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
CRASH_KILLS=${CRASH_KILLS:-20} exec /usr/bin/python3 tests/e2e/crash_e2e.py "$BUILD"
