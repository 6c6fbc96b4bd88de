#!/usr/bin/env bash
# hack/crash-200.sh - the crash-safety e2e (tests/e2e/crash_e2e.py) with 200
# kill -9 of the controller instead of `make test`'s 20 (about 4 minutes).
# Usage: BUILD=build [CRASH_KILLS=200] [CRASH_SEED=N] bash hack/crash-200.sh
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
CRASH_KILLS=${CRASH_KILLS:-200} exec bash tests/e2e/suite-crash.sh
