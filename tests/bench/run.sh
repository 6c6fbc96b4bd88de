#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: prints performance figures (not pass/fail).
#
# Each bench prints lines "bench=<name> <metric>=<value> ... target=<...>".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."

for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    "$b" || echo "bench=$(basename "$b") error=exit-$?"
done
for s in tests/bench/*-bench.sh; do
    [ -f "$s" ] || continue
    BUILD=$BUILD bash "$s" || echo "bench=$(basename "$s") error=exit-$?"
done
