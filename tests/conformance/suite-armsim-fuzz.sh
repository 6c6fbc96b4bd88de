#!/usr/bin/env bash
# suite-armsim-fuzz.sh - armsim keeps serving under >= 1,000 malformed requests.
#
# Starts $BUILD/armsim on a free loopback port in a temporary directory, runs
# tests/conformance/armsim_fuzz.py (Debian's /usr/bin/python3, TLS verified against the CA
# armsim generated): bad JSON, unknown and missing api-versions, wrong paths, missing fields,
# bad tokens, huge headers, truncated bodies and random mutations, asserting the Azure error
# codes and that a plain GET works after every batch. Always stops armsim.
# Last line: "N passed, N failed"; exit 1 on any failure.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
root=$PWD
armsim=$root/$BUILD/armsim
py=/usr/bin/python3
[ -x "$py" ] || py=python3

fail_setup() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}

[ -x "$armsim" ] || fail_setup "armsim binary $armsim is missing (build it: make BUILD=$BUILD)"

tmp=$(mktemp -d /tmp/armsim-fuzz.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$tmp/armsim"
"$armsim" --port "$port" --dir "$tmp/armsim" --seed 3 --provision-seconds 1 \
    >"$tmp/armsim.log" 2>&1 &
pid=$!
for ((i = 0; i < 150; i++)); do
    grep -q "armsim listening on https://127.0.0.1:$port" "$tmp/armsim.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -q "armsim listening on https://127.0.0.1:$port" "$tmp/armsim.log" ||
    fail_setup "armsim did not start: $(tail -n 5 "$tmp/armsim.log")"

ARMSIM_URL=https://127.0.0.1:$port ARMSIM_CA=$tmp/armsim/ca.pem \
    timeout 600 "$py" "$root/tests/conformance/armsim_fuzz.py" 2>&1 | tee "$tmp/fuzz.out"
rc=${PIPESTATUS[0]}
if ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL armsim exited during the run:"
    tail -n 20 "$tmp/armsim.log"
    rc=1
fi
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/fuzz.out" | tail -n 1)
if [ "$rc" -ne 0 ]; then
    echo "${summary:-0 passed, 1 failed}" | awk '{ if ($3 == "0") print $1 " passed, 1 failed"; else print }'
    exit 1
fi
exit 0
