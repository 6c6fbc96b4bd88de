#!/usr/bin/env bash
# tests/e2e/suite-rollout-churn.sh - suite-rollout.sh plus: a halted rollout replaces
# no instance already on the old image (rollout_e2e.py --churn). Prints
# "N passed, N failed" last.
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
exec /usr/bin/python3 tests/e2e/rollout_e2e.py "$BUILD" --churn
