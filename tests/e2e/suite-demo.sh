#!/usr/bin/env bash
# tests/e2e/suite-demo.sh - the demo behind `make run` (hack/run-demo.sh):
# every example pool reaches Ready against the seeded armsim world, and the
# demo stops what it started. Prints "N passed, N failed" last.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
pass=0 fail=0
check() {
    if eval "$2"; then
        pass=$((pass + 1)); echo "ok   $1"
    else
        fail=$((fail + 1)); echo "FAIL $1"; tail -n 25 "$out" | sed 's/^/    | /'
    fi
}
BUILD=$BUILD DEMO_SECONDS=${DEMO_SECONDS:-45} AZPOOL_LISTEN=127.0.0.1:$port \
    bash hack/run-demo.sh >"$out" 2>&1
rc=$?
last=$(awk '/^POOL /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$out" | sed -n '1,4p')
check "demo exits 0 after DEMO_SECONDS" '[ $rc -eq 0 ]'
for pool in ci/github-runners automation/hybrid-linux build/ado-agents; do
    check "$pool is Ready with all replicas" \
        "echo \"\$last\" | awk -v p=$pool '\$1==p {split(\$2,a,\"/\"); ok=(\$3==\"Ready\" && a[1]==a[2])} END{exit !ok}'"
done
check "demo stopped azpool and armsim" \
    "! pgrep -f \"$BUILD/demo/sim\" >/dev/null && ! pgrep -f \"listen 127.0.0.1:$port\" >/dev/null"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
