#!/usr/bin/env bash
# tests/e2e/suite-accepted.sh - writes accepted, not followed (controller/exec.h):
# no operation polling, prompt readiness, a second scale-set write waits for the
# first one's operation, a failed provisioning is repaired through observation
# (tests/e2e/accepted_e2e.py). Prints "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" accepted_e2e.py
