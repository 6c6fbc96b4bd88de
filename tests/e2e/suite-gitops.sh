#!/usr/bin/env bash
# tests/e2e/suite-gitops.sh - `azpool run --source dir:` against armsim
# (tests/e2e/gitops_e2e.py). Prints "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" gitops_e2e.py
