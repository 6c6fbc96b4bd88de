#!/usr/bin/env bash
# tests/e2e/suite-signals.sh - autoscale signals: queue-driven autoscale, busy
# protection and Event Grid hints (tests/e2e/signals_e2e.py, armsim + Azurite). Prints
# "N passed, N failed" last.
exec bash "$(dirname "$0")/py-suite.sh" signals_e2e.py
