#!/usr/bin/env bash
# tests/e2e/suite-rollout.sh - image rollout (surge limits), canary halt and no churn after it
# against armsim (tests/e2e/rollout_e2e.py). Prints
# "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" rollout_e2e.py
