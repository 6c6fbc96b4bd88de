#!/usr/bin/env bash
# tests/e2e/suite-expiry.sh - instance expiry: maintenance windows, disruption
# budget and forceAfter against armsim (tests/e2e/expiry_e2e.py). Prints
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
exec /usr/bin/python3 tests/e2e/expiry_e2e.py "$BUILD"
