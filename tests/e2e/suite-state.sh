#!/usr/bin/env bash
# tests/e2e/suite-state.sh - --state-dir and the iv|ep API against armsim
# (tests/e2e/state_e2e.py). Prints "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" state_e2e.py
