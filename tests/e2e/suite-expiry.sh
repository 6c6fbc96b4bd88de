#!/usr/bin/env bash
# tests/e2e/suite-expiry.sh - instance expiry: maintenance windows, disruption
# budget and forceAfter against armsim (tests/e2e/expiry_e2e.py). Prints
# "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" expiry_e2e.py
