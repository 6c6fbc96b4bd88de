#!/usr/bin/env bash
# tests/e2e/suite-faults.sh - convergence under injected 5xx, 429 and resets,
# and no request into a paused bucket (tests/e2e/faults_e2e.py). Prints
# "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" faults_e2e.py
