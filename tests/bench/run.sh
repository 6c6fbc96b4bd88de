#!/usr/bin/env bash
# tests/bench/run.sh - `make bench`: prints performance figures (not pass/fail).
#
# Each bench prints lines "bench=<name> <metric>=<value> ... target=<...>".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."

for b in "$BUILD"/bench/bench_*; do
    [ -x "$b" ] || continue
    "$b"
    rc=$?
    [ $rc -eq 0 ] || echo "bench=$(basename "$b") error=exit-$rc"
done
for s in tests/bench/*-bench.sh; do
    [ -f "$s" ] || continue
    BUILD=$BUILD bash "$s"
    rc=$?
    [ $rc -eq 0 ] || echo "bench=$(basename "$s") error=exit-$rc"
done
