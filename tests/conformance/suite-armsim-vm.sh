#!/usr/bin/env bash
# suite-armsim-vm.sh - the Debian python3-azure SDK drives armsim's VM, NIC, extension and Flexible VMSS surface.
#
# Starts $BUILD/armsim (time scale 60, page size 2 so lists are paged) on a free loopback port
# in a temporary directory, runs tests/conformance/armsim_vm_sdk.py with Debian's /usr/bin/python3
# and the CA armsim generated (TLS verified), and always stops armsim.
# Last line: "N passed, N failed"; exit 1 on any failure.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
root=$PWD
armsim=$root/$BUILD/armsim
py=/usr/bin/python3

fail_setup() {
    echo "FAIL setup: $*"
    echo "0 passed, 1 failed"
    exit 1
}

[ -x "$py" ] || fail_setup "$py is missing"
"$py" -c "import azure.mgmt.compute, azure.mgmt.network, azure.identity" 2>/dev/null ||
    fail_setup "Debian python3-azure is not importable by $py"
[ -x "$armsim" ] || fail_setup "armsim binary $armsim is missing (build it: make BUILD=$BUILD)"

tmp=$(mktemp -d /tmp/armsim-vm.XXXXXX)
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
start_armsim() {
    : >"$tmp/armsim.log"
    "$armsim" --port "$port" --dir "$tmp/armsim" --seed 3 --time-scale 60 --page-size 2 \
        --state "$tmp/state.json" >"$tmp/armsim.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 150; i++)); do
        grep -q "armsim listening on https://127.0.0.1:$port" "$tmp/armsim.log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
start_armsim || fail_setup "armsim did not start: $(tail -n 5 "$tmp/armsim.log")"
lines=$(grep -c . "$tmp/armsim.log")

ARMSIM_URL=https://127.0.0.1:$port REQUESTS_CA_BUNDLE=$tmp/armsim/ca.pem \
    SSL_CERT_FILE=$tmp/armsim/ca.pem AZURE_AUTHORITY_HOST= \
    timeout 600 "$py" "$root/tests/conformance/armsim_vm_sdk.py" 2>&1 | tee "$tmp/sdk.out"
rc=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/sdk.out" | tail -n 1)
pass=${summary%% *}
fail=$(echo "${summary:-0 passed, 1 failed}" | awk '{print $3}')
pass=${pass:-0}
check() { # check COND-EXIT-STATUS WHAT
    if [ "$1" -eq 0 ]; then
        pass=$((pass + 1))
        echo "ok - $2"
    else
        fail=$((fail + 1))
        echo "FAIL - $2"
    fi
}
check $([ "$lines" -eq 1 ]; echo $?) "exactly one line on stdout at start ($lines)"
kill -0 "$pid" 2>/dev/null
check $? "armsim survived the SDK run"

# --state: SIGTERM saves the world (exit 0), a restart with the same --dir and --state loads it,
# and a token issued before the restart is still accepted (the signing key lives in --dir).
base=https://127.0.0.1:$port
tok=$(curl -s --cacert "$tmp/armsim/ca.pem" -X POST "$base/t/oauth2/v2.0/token" \
    -d 'grant_type=client_credentials&client_id=keeper&client_secret=x&scope=https%3A%2F%2Fmanagement.azure.com%2F.default' |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tmp/armsim/ca.pem" -X PUT \
    -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    "$base/subscriptions/s-keep/resourceGroups/keep?api-version=2021-04-01" -d '{"location":"westus","tags":{"k":"v"}}')
check $([ "$code" = 201 ]; echo $?) "resource group created before restart ($code)"
kill -TERM "$pid"
wait "$pid"
check $? "SIGTERM: exit status 0"
pid=
check $([ -s "$tmp/state.json" ]; echo $?) "state file written"
start_armsim
check $? "restart with --state"
body=$(curl -s --cacert "$tmp/armsim/ca.pem" -H "Authorization: Bearer $tok" \
    "$base/subscriptions/s-keep/resourceGroups/keep?api-version=2021-04-01")
echo "$body" | grep -q '"tags":{"k":"v"}'
check $? "resource group and tags survived the restart; old token accepted: $body"

echo "$pass passed, $fail failed"
[ "$rc" -eq 0 ] && [ "$fail" -eq 0 ]
