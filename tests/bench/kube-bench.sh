#!/usr/bin/env bash
# kube-bench.sh - Kubernetes-mode figures of `make bench` (issue 6; not pass/fail):
# change-to-first-ARM-write latency after `kubectl apply` (p50/p99, target p99 < 200 ms) and
# API server requests per reconcile at steady state (target 0 writes; Lease renewals reported
# apart; also the writes about a pool that cannot converge), with one controller and with two
# replicas (leader election). The work is in kube_bench.py (Debian's /usr/bin/python3, stdlib
# only, plus kubectl), which starts and always stops its own kubesim, armsim and
# `azpool run --source kube` on free ports; it reads kubesim's request log
# (GET /_kubesim/requests) and armsim's (/_armsim/log).
# Prints "bench=kube-... target=... miss=yes|no".
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
for b in azpool armsim kubesim; do
    if [ ! -x "$BUILD/$b" ]; then
        echo "bench=kube error=missing-binary path=$BUILD/$b"
        exit 1
    fi
done
if ! command -v kubectl >/dev/null && [ "${KBENCH_EDIT:-kubectl}" = kubectl ]; then
    echo "# kubectl not found: edits sent as merge PATCHes (KBENCH_EDIT=patch)"
    export KBENCH_EDIT=patch
fi
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" tests/bench/kube_bench.py "$BUILD"
