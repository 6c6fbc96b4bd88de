#!/usr/bin/env bash
# hack/run-demo.sh - what `make run` does after building: the embedded test
# world and the controller on manifests/examples/.
#
#  1. validates the examples and shows the plan against an empty world;
#  2. starts armsim (ARM + Entra ID simulator, HTTPS with its own CA) and seeds
#     what the examples expect to exist (resource groups, gallery versions, the
#     Automation account): hack/demo_seed.py;
#  3. writes demo secrets (DIR/<namespace>/<name>/<key>) for the examples'
#     secret references;
#  4. runs `azpool run --source dir:manifests/examples` and shows the pools
#     converging: a live table on a terminal, plain lines otherwise;
#  5. Ctrl-C (or SIGTERM) stops everything it started.
# DEMO_SECONDS=N stops by itself after N seconds (used by tests and CI).
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
root=$PWD
az="$root/$BUILD/azpool"
sim="$root/$BUILD/armsim"
examples=manifests/examples
demo="$root/$BUILD/demo"
listen=${AZPOOL_LISTEN:-127.0.0.1:9440}
tty=0
[ -t 1 ] && tty=1

bold() { if [ $tty = 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bold "== azpool $("$az" version | cut -d' ' -f2): validating $examples"
"$az" validate "$examples"
echo
bold "== what Azpool would do in an empty Azure world (azpool plan -f $examples)"
"$az" plan -f "$examples" | tail -n 4 || true
echo

pids=()
cleanup() {
    trap - EXIT INT TERM
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    echo
    bold "== stopped azpool and armsim; logs are in $demo/"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

rm -rf "$demo"
mkdir -p "$demo/sim" "$demo/secrets"
port=$(free_port)
"$sim" --port "$port" --dir "$demo/sim" --time-scale 60 --seed 1 >"$demo/armsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "armsim listening" "$demo/armsim.log" && break; sleep 0.1; done
grep -q "armsim listening" "$demo/armsim.log" || { cat "$demo/armsim.log"; exit 1; }
arm="https://127.0.0.1:$port"
bold "== armsim (simulated Azure) on $arm, one real second = one simulated minute"
/usr/bin/python3 hack/demo_seed.py "$arm" "$demo/sim/ca.pem"

secret() { mkdir -p "$demo/secrets/$1/$2"; printf '%s' "$4" >"$demo/secrets/$1/$2/$3"; }
secret ci github-runner-cloud-init user-data $'#cloud-config\nruncmd: [echo runner]\n'
secret automation hybrid-worker-cloud-init user-data $'#cloud-config\nruncmd: [echo worker]\n'
secret build ado-agent-registration protected-settings.json '{"PATToken":"demo-not-a-token"}'
secret build ado-bridge-token headers 'Authorization: Bearer demo-not-a-token'

AZURE_TENANT_ID=tenant-1 AZURE_CLIENT_ID=azpool-demo AZURE_CLIENT_SECRET=demo-secret \
    AZURE_AUTHORITY_HOST="$arm" \
    "$az" run --source "dir:$examples" --arm-endpoint "$arm" --ca-file "$demo/sim/ca.pem" \
    --secrets-dir "$demo/secrets" --listen "$listen" --resync 30s >"$demo/azpool.log" 2>&1 &
pids+=($!)
bold "== azpool run --source dir:$examples"
echo "   metrics:    http://$listen/metrics"
echo "   status API: http://$listen/api/v1/namespaces/{ci,automation,build}/workerpools"
echo "   logs:       $demo/azpool.log   (Ctrl-C stops everything)"
echo

table() {
    /usr/bin/python3 - "$listen" <<'PY'
import json, sys, urllib.request
rows = []
for ns in ("ci", "automation", "build"):
    try:
        with urllib.request.urlopen(f"http://{sys.argv[1]}/api/v1/namespaces/{ns}/workerpools", timeout=2) as r:
            items = json.load(r)["items"]
    except Exception:
        continue
    for it in items:
        st = it.get("status") or {}
        ready = next((c for c in st.get("conditions", []) if c["type"] == "Ready"), {})
        rows.append((f"{ns}/{it['metadata']['name']}", f"{st.get('readyReplicas', 0)}/{st.get('desiredReplicas', 0)}",
                     ready.get("reason", "Pending"), (ready.get("message") or "")[:70]))
print(f"{'POOL':26} {'READY':7} {'STATUS':28} MESSAGE")
for r in rows:
    print(f"{r[0]:26} {r[1]:7} {r[2]:28} {r[3]}")
PY
}

start=$SECONDS
last=""
while :; do
    if ! kill -0 "${pids[1]}" 2>/dev/null; then
        bold "== azpool exited; last log lines:"
        tail -n 20 "$demo/azpool.log"
        exit 1
    fi
    now=$(table)
    if [ $tty = 1 ]; then
        printf '\033[H\033[J'
        bold "azpool demo: $(date +%T)  (Ctrl-C to stop)"
        echo "$now"
    elif [ "$now" != "$last" ]; then
        echo "--- $(date +%T)"
        echo "$now"
        last=$now
    fi
    if [ -n "${DEMO_SECONDS:-}" ] && [ $((SECONDS - start)) -ge "$DEMO_SECONDS" ]; then
        exit 0
    fi
    sleep 1
done
