#!/usr/bin/env bash
# armsim-bench.sh - armsim throughput and memory figures (not pass/fail).
#
# 1. simple GETs per second over one TLS keep-alive connection (curl walking a URL list, so
#    armsim uses one core; throttling disabled through the admin API so every GET is served);
# 2. resident memory for 100,000 VMSS instances (100 scale sets x 1000, Azure's per-set limit),
#    and the time to list one page of them with $expand=instanceView.
# Prints "bench=armsim-... key=value ... target=..." lines. Starts armsim on a free port in a
# temporary directory and always stops it.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
armsim=$PWD/$BUILD/armsim
py=/usr/bin/python3
[ -x "$py" ] || py=python3
N=${ARMSIM_BENCH_GETS:-20000}
[ -x "$armsim" ] || {
    echo "bench=armsim error=missing-binary path=$armsim"
    exit 1
}
tmp=$(mktemp -d /tmp/armsim-bench.XXXXXX)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$armsim" --port "$port" --dir "$tmp" --provision-seconds 1 >"$tmp/log" 2>&1 &
pid=$!
for ((i = 0; i < 100; i++)); do
    grep -q listening "$tmp/log" 2>/dev/null && break
    sleep 0.1
done
base=https://127.0.0.1:$port
ca=$tmp/ca.pem
tok=$(curl -s --cacert "$ca" -X POST "$base/t/oauth2/v2.0/token" \
    -d 'grant_type=client_credentials&client_id=bench&client_secret=x&scope=https%3A%2F%2Fmanagement.azure.com%2F.default' |
    "$py" -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -s --cacert "$ca" -X POST "$base/_armsim/throttle" -d '{"enabled":false}' >/dev/null
sub=/subscriptions/00000000-0000-0000-0000-0000000bench
rg=$sub/resourceGroups/bench
curl -s --cacert "$ca" -X PUT -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    "$base$rg?api-version=2021-04-01" -d '{"location":"westus"}' >/dev/null

# 1. GETs per second over keep-alive
for ((i = 0; i < N; i++)); do
    echo "url = \"$base$rg?api-version=2021-04-01\""
    echo "output = /dev/null"
done >"$tmp/urls.cfg"
cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
start=$(date +%s.%N)
codes=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" -K "$tmp/urls.cfg" -w '%{http_code}\n' |
    sort | uniq -c | tr -s ' ' | tr '\n' ' ')
end=$(date +%s.%N)
cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
hz=$(getconf CLK_TCK)
rate=$("$py" -c "print(int($N / ($end - $start)))")
cpus=$("$py" -c "print(round(($cpu1 - $cpu0) / $hz, 2))")
cap=$("$py" -c "print(int($N / max(($cpu1 - $cpu0) / $hz, 0.01)))")
# rps is bounded by the single curl client; server_capacity_rps = requests / armsim CPU seconds
echo "bench=armsim-get requests=$N seconds=$("$py" -c "print(round($end - $start, 2))") rps=$rate armsim_cpu_seconds=$cpus server_capacity_rps=$cap statuses=\"${codes% }\" target=\">=5000 rps on one core\""

# 2. memory for 100,000 instances
rss0=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
body='{"location":"westus","sku":{"name":"Standard_D2s_v3","capacity":1000},"properties":{"orchestrationMode":"Uniform","overprovision":false,"upgradePolicy":{"mode":"Manual"},"virtualMachineProfile":{"storageProfile":{"imageReference":{"id":"/subscriptions/x/resourceGroups/g/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0"}},"osProfile":{"computerNamePrefix":"bench","adminUsername":"azureuser"}}}}'
: >"$tmp/puts.cfg"
for ((i = 0; i < 100; i++)); do
    # per-URL options: "next" starts a new set (data would otherwise be joined across URLs)
    printf 'url = "%s%s/providers/Microsoft.Compute/virtualMachineScaleSets/ss%03d?api-version=2024-11-01"\nrequest = PUT\ndata = @%s\noutput = /dev/null\ncacert = %s\nheader = "Authorization: Bearer %s"\nheader = "Content-Type: application/json"\nsilent\nwrite-out = "%%{http_code}\\n"\nnext\n' \
        "$base" "$rg" "$i" "$tmp/body.json" "$ca" "$tok" >>"$tmp/puts.cfg"
done
sed -i '$ d' "$tmp/puts.cfg" # no trailing "next"
printf '%s' "$body" >"$tmp/body.json"
start=$(date +%s.%N)
curl -K "$tmp/puts.cfg" | sort | uniq -c | tr -s ' ' | tr '\n' ' ' >"$tmp/put.codes"
end=$(date +%s.%N)
sleep 1.2 # provisioning (1 simulated second) finishes
count=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" \
    "$base$rg/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-11-01" |
    "$py" -c 'import json, sys; print(sum(v["sku"]["capacity"] for v in json.load(sys.stdin)["value"]))')
rss1=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
t0=$(date +%s.%N)
n=$(curl -s --cacert "$ca" -H "Authorization: Bearer $tok" \
    "$base$rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss042/virtualMachines?api-version=2024-11-01&\$expand=instanceView" |
    "$py" -c 'import json, sys; print(len(json.load(sys.stdin)["value"]))')
t1=$(date +%s.%N)
echo "bench=armsim-instances put_statuses=\"$(sed 's/ $//' "$tmp/put.codes")\" instances=$count scalesets=100 create_seconds=$("$py" -c "print(round($end - $start, 2))") rss_mb=$((rss1 / 1024)) rss_before_mb=$((rss0 / 1024)) peak_mb=$((hwm / 1024)) page_items=$n page_ms=$("$py" -c "print(int(($t1 - $t0) * 1000))") target=\"100000 instances in <= 500 MB\""
