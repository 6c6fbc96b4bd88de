#!/usr/bin/env bash
# tests/e2e/suite-signals.sh - autoscale signals: queue-driven autoscale, busy
# protection and Event Grid hints (tests/e2e/signals_e2e.py, armsim + Azurite). Prints
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
exec /usr/bin/python3 tests/e2e/signals_e2e.py "$BUILD"
