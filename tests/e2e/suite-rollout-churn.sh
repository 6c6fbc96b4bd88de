#!/usr/bin/env bash
# tests/e2e/suite-rollout-churn.sh - suite-rollout.sh plus: a halted rollout replaces
# no instance already on the old image (rollout_e2e.py --churn). Prints
# "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" rollout_e2e.py --churn
