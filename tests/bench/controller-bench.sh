#!/usr/bin/env bash
# controller-bench.sh - controller figures of `make bench` (issue 5; not pass/fail):
# convergence time of 100 ScaleSet pools x 10 against the minimum armsim's configuration allows,
# writes / minimal writes, change-to-first-ARM-write latency p50/p99, controller VmHWM at
# 1,000 pools x 10. The work is in controller_bench.py (Debian's /usr/bin/python3, stdlib only,
# TLS verified with armsim's CA), which starts and always stops its own armsim and
# `azpool run --source dir:` on free ports. Prints "bench=controller-... target=... miss=yes|no".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
for b in azpool armsim; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "bench=controller error=missing-binary path=$BUILD/$b"
        exit 1
    fi
done
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" tests/bench/controller_bench.py "$BUILD"
