#!/usr/bin/env bash
# tests/e2e/py-suite.sh - runs one Python e2e driver as a suite:
#   py-suite.sh [--need "azpool armsim ..."] DRIVER.py [ARGS...]
# Checks that the binaries the driver starts are built in $BUILD (default:
# azpool and armsim), then runs /usr/bin/python3 tests/e2e/DRIVER.py BUILD ARGS
# from the repository root. The driver prints "N passed, N failed" last.
set -u
BUILD=${BUILD:-build}
need="azpool armsim"
if [ "${1:-}" = --need ]; then
    need=$2
    shift 2
fi
driver=$1
shift
cd "$(dirname "$0")/../.."
for b in $need; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "FAIL setup: $BUILD/$b is missing (make BUILD=$BUILD)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
exec /usr/bin/python3 "tests/e2e/$driver" "$BUILD" "$@"
