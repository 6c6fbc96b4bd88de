#!/usr/bin/env bash
# suite-armsim-sdk.sh - conformance: the unmodified Debian python3-azure SDK drives armsim.
#
# Starts $BUILD/armsim on a free loopback port in a temporary directory (with a time scale so
# provisioning takes well under a second), starts Azurite's queue service when it is installed
# (Event Grid delivery checks), runs tests/conformance/armsim_sdk.py with Debian's
# /usr/bin/python3 and the CA armsim generated, and always stops what it started.
# A missing armsim binary is a failure, not a skip. Last line: "N passed, N failed".
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

[ -x "$armsim" ] || fail_setup "armsim binary $armsim is missing (build it: make BUILD=$BUILD)"
[ -x "$py" ] || fail_setup "$py is missing (hack/install-deps.sh installs python3-azure)"
"$py" -c 'import azure.mgmt.compute, azure.mgmt.automation, azure.mgmt.imagebuilder, azure.identity' \
    2>/dev/null || fail_setup "Debian python3-azure is not importable by $py"

tmp=$(mktemp -d /tmp/armsim-sdk.XXXXXX)
pids=()
cleanup() {
    local p i
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for FILE PATTERN PID SECONDS: 0 once FILE contains PATTERN, 1 when PID dies or time runs out.
wait_for() {
    local i
    for ((i = 0; i < $4 * 10; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

port=$(free_port)
mkdir -p "$tmp/armsim"
"$armsim" --port "$port" --dir "$tmp/armsim" --time-scale 120 --seed 7 --page-size 2 \
    >"$tmp/armsim.log" 2>&1 &
pids+=($!)
if ! wait_for "$tmp/armsim.log" "armsim listening on https://127.0.0.1:$port" "${pids[0]}" 15; then
    sed 's/^/    armsim| /' "$tmp/armsim.log" | tail -n 30
    fail_setup "armsim did not start on port $port"
fi
[ -s "$tmp/armsim/ca.pem" ] || fail_setup "armsim wrote no $tmp/armsim/ca.pem"

azurite_url=
if command -v azurite-queue >/dev/null 2>&1; then
    qport=$(free_port)
    mkdir -p "$tmp/azurite"
    azurite-queue --queueHost 127.0.0.1 --queuePort "$qport" --location "$tmp/azurite" \
        --skipApiVersionCheck --disableTelemetry --silent >"$tmp/azurite.log" 2>&1 &
    pids+=($!)
    if wait_for "$tmp/azurite.log" "successfully listens" "${pids[1]}" 20; then
        azurite_url=http://127.0.0.1:$qport/devstoreaccount1
    else
        sed 's/^/    azurite| /' "$tmp/azurite.log" | tail -n 10
    fi
fi

# In the background, so that INT/TERM reach the traps at once (bash defers traps while a
# foreground command runs); the output is shown when it ends.
ARMSIM_URL=https://127.0.0.1:$port \
    REQUESTS_CA_BUNDLE=$tmp/armsim/ca.pem SSL_CERT_FILE=$tmp/armsim/ca.pem \
    AZURITE_QUEUE_URL=$azurite_url AZURE_AUTHORITY_HOST= \
    timeout 900 "$py" "$root/tests/conformance/armsim_sdk.py" >"$tmp/sdk.out" 2>&1 &
pids+=($!)
wait "${pids[-1]}"
rc=$?
cat "$tmp/sdk.out"
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/sdk.out" | tail -n 1)
if [ "$rc" -ne 0 ]; then
    echo "--- armsim log (last 40 lines)"
    tail -n 40 "$tmp/armsim.log"
    # The summary stays the last line; a crash without one counts as a failure.
    echo "${summary:-0 passed, 1 failed}"
    exit 1
fi
exit 0
