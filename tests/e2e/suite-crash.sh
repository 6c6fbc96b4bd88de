#!/usr/bin/env bash
# tests/e2e/suite-crash.sh - kill -9 of `azpool run` at random moments of
# convergence, 20 times, against armsim (tests/e2e/crash_e2e.py; 200 kills:
# hack/crash-200.sh). CRASH_SEED=N replays a schedule. Prints "N passed, N failed" last.
CRASH_KILLS=${CRASH_KILLS:-20} exec bash "$(dirname "$0")/py-suite.sh" crash_e2e.py
