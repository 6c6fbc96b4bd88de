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
"$armsim" --port "$port" --dir "$tmp/armsim" --seed 3 --time-scale 60 --page-size 2 \
    >"$tmp/armsim.log" 2>&1 &
pid=$!
for ((i = 0; i < 150; i++)); do
    grep -q "armsim listening on https://127.0.0.1:$port" "$tmp/armsim.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
grep -q "armsim listening on https://127.0.0.1:$port" "$tmp/armsim.log" ||
    fail_setup "armsim did not start: $(tail -n 5 "$tmp/armsim.log")"

ARMSIM_URL=https://127.0.0.1:$port REQUESTS_CA_BUNDLE=$tmp/armsim/ca.pem \
    SSL_CERT_FILE=$tmp/armsim/ca.pem AZURE_AUTHORITY_HOST= \
    timeout 600 "$py" "$root/tests/conformance/armsim_vm_sdk.py" 2>&1 | tee "$tmp/fuzz.out"
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
