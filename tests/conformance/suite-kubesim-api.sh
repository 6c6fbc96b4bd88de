#!/usr/bin/env bash
# suite-kubesim-api.sh - kubesim's HTTP contract checked with curl + jq (no Kubernetes client):
# discovery (legacy and aggregated), /openapi/v2, Status bodies, one global resourceVersion,
# CRUD with 409/422, CRDs from crds/ with schema defaults and validation causes, generation
# rules, /status and /scale, merge / JSON / apply / strategic patches, finalizers, selectors,
# limit/continue, Table output, watch (replay from RV, synthetic ADDED, bookmarks, timeoutSeconds,
# 410 after POST /_kubesim/compact, POST /_kubesim/watches/drop), --tls with the CA, --token,
# --rbac (TokenRequest, RBAC with resourceNames, SelfSubjectAccessReview, Impersonate-User) and
# --state.
#
# Starts $BUILD/kubesim (KUBESIM=path overrides) on a free port in a temp dir, always kills it.
# Prints "N passed, N failed" last; exits 1 on any failure.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
KS=${KUBESIM:-$BUILD/kubesim}
PY=/usr/bin/python3

. tests/conformance/lib-checks.sh

if ! [ -x "$KS" ]; then
    bad "kubesim binary $KS is missing (build it: make BUILD=$BUILD)"
    finish
fi

tmp=$(mktemp -d /tmp/ks-api.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    jobs -p | xargs -r kill 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # DIR PORT [ARGS...] -> waits for the listening line
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    "$KS" --port "$port" --dir "$dir" "$@" >"$dir/log" 2>&1 &
    last_pid=$!
    pids+=($!)
    for _ in $(seq 100); do
        grep -q 'kubesim listening on' "$dir/log" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

port=$(freeport)
start "$tmp/a" "$port" --bookmark-seconds 1 --history 1000
B=http://127.0.0.1:$port
line=$(head -n1 "$tmp/a/log")
check "prints exactly 'kubesim listening on $B' and writes kubeconfig with the server URL" \
    "$([ "$line" = "kubesim listening on $B" ] && grep -q "server: $B" "$tmp/a/kubeconfig" && grep -q 'token:' "$tmp/a/kubeconfig"; echo $?)" "$line"

# req METHOD PATH [BODY [CONTENT-TYPE [ACCEPT]]] -> body in $tmp/body, status in $code, headers in $tmp/hdr
req() {
    local m=$1 p=$2 body=${3:-} ct=${4:-application/json} acc=${5:-application/json}
    if [ -n "$body" ]; then
        code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -X "$m" -H "Content-Type: $ct" \
            -H "Accept: $acc" --data-binary "$body" "$B$p")
    else
        code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -X "$m" -H "Accept: $acc" "$B$p")
    fi
}
j() { jq -r "$1" "$tmp/body" 2>/dev/null; }

# ---- discovery ----
req GET /version
check "/version: major 1, gitVersion" "$([ "$code" = 200 ] && [ "$(j .major)" = 1 ] && [ -n "$(j .gitVersion)" ]; echo $?)" "$(cat "$tmp/body")"
req GET /api
check "/api: APIVersions [v1]" "$([ "$(j .kind)" = APIVersions ] && [ "$(j '.versions[0]')" = v1 ]; echo $?)" "$(cat "$tmp/body")"
req GET /api/v1
check "/api/v1: namespaces (cluster), configmaps, secrets, events, serviceaccounts" \
    "$([ "$(j '[.resources[]|select(.name=="namespaces")][0].namespaced')" = false ] &&
        [ "$(j '[.resources[].name]|map(select(.=="configmaps" or .=="secrets" or .=="events" or .=="serviceaccounts"))|length')" = 4 ]; echo $?)" "$(cat "$tmp/body")"
req GET /apis
check "/apis: APIGroupList with coordination.k8s.io and apiextensions.k8s.io" \
    "$([ "$(j .kind)" = APIGroupList ] && j '.groups[].name' | grep -qx coordination.k8s.io && j '.groups[].name' | grep -qx apiextensions.k8s.io; echo $?)" "$(cat "$tmp/body")"
ctype=$(grep -i '^content-type:' "$tmp/hdr" | tr -d '\r')
check "plain answers carry Content-Type: application/json" "$(echo "$ctype" | grep -qi 'application/json$'; echo $?)" "$ctype"
req GET /apis "" application/json 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
ctype=$(grep -i '^content-type:' "$tmp/hdr" | tr -d '\r')
check "aggregated /apis for kubectl >= 1.30: APIGroupDiscoveryList v2 and its Content-Type" \
    "$([ "$(j .kind)" = APIGroupDiscoveryList ] && [ "$(j .apiVersion)" = apidiscovery.k8s.io/v2 ] && echo "$ctype" | grep -q 'as=APIGroupDiscoveryList'; echo $?)" "$ctype $(head -c 300 "$tmp/body")"
req GET /api "" application/json 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json'
check "aggregated /api v2beta1: one item named \"\" with scope Namespaced configmaps" \
    "$([ "$(j .apiVersion)" = apidiscovery.k8s.io/v2beta1 ] && [ "$(j '.items[0].metadata.name')" = "" ] &&
        [ "$(j '.items[0].versions[0].resources[]|select(.resource=="configmaps").scope')" = Namespaced ]; echo $?)" "$(head -c 300 "$tmp/body")"
code=$(curl -s -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -H 'Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf' "$B/openapi/v2")
ctype=$(grep -i '^content-type:' "$tmp/hdr" | tr -d '\r')
check "/openapi/v2: 200 application/octet-stream protobuf starting with swagger 2.0" \
    "$([ "$code" = 200 ] && echo "$ctype" | grep -q octet-stream && head -c 5 "$tmp/body" | od -An -tx1 | grep -q '0a 03 32 2e 30'; echo $?)" "$code $ctype"
req GET /openapi/v3
check "/openapi/v3: 404 (kubectl then uses v2 and merge patch for CRs)" "$([ "$code" = 404 ]; echo $?)"

# ---- Status bodies, built-in CRUD, resourceVersion ----
req GET /api/v1/namespaces/default/configmaps/nope
check "404 Status: kind Status, reason NotFound, code 404, message, details.kind configmaps" \
    "$([ "$code" = 404 ] && [ "$(j .kind)" = Status ] && [ "$(j .reason)" = NotFound ] && [ "$(j .code)" = 404 ] &&
        [ "$(j .message)" = 'configmaps "nope" not found' ] && [ "$(j .details.kind)" = configmaps ]; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t1"}}'
check "create namespace t1: 201, phase Active" "$([ "$code" = 201 ] && [ "$(j .status.phase)" = Active ]; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1","labels":{"app":"a","tier":"x"}},"data":{"k":"v"}}'
rv1=$(j .metadata.resourceVersion)
check "create configmap: 201 with uid, creationTimestamp, resourceVersion" \
    "$([ "$code" = 201 ] && [ -n "$(j .metadata.uid)" ] && j .metadata.creationTimestamp | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' && [ -n "$rv1" ]; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/t1/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"}}'
check "create again: 409 AlreadyExists 'configmaps \"c1\" already exists'" \
    "$([ "$code" = 409 ] && [ "$(j .reason)" = AlreadyExists ] && [ "$(j .message)" = 'configmaps "c1" already exists' ]; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/nons/configmaps '{"metadata":{"name":"c"}}'
check "create in a missing namespace: 404 'namespaces \"nons\" not found'" \
    "$([ "$code" = 404 ] && [ "$(j .message)" = 'namespaces "nons" not found' ]; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/t1/configmaps '{"metadata":{"name":"c9","resourceVersion":"5"}}'
check "create with resourceVersion set: 500 'resourceVersion should not be set on objects to be created'" \
    "$([ "$code" = 500 ] && j .message | grep -q 'should not be set'; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/t1/configmaps '{"metadata":{"generateName":"gen-"}}'
check "generateName: 201 with a name gen-xxxxx" "$([ "$code" = 201 ] && j .metadata.name | grep -Eq '^gen-[a-z0-9]{5}$'; echo $?)" "$(cat "$tmp/body")"
req POST /api/v1/namespaces/t1/configmaps '{"metadata":{"name":"c2","labels":{"app":"b"}},"data":{"k":"w"}}'
rv2=$(j .metadata.resourceVersion)
check "one global resourceVersion: the next write has a larger RV" "$([ "$rv2" -gt "$rv1" ]; echo $?)" "$rv1 -> $rv2"
req PUT /api/v1/namespaces/t1/configmaps/c1 "{\"metadata\":{\"name\":\"c1\",\"resourceVersion\":\"$rv1\",\"labels\":{\"app\":\"a\",\"tier\":\"x\"}},\"data\":{\"k\":\"v2\"}}"
rv3=$(j .metadata.resourceVersion)
check "PUT with the current RV: 200, new RV, data changed" "$([ "$code" = 200 ] && [ "$rv3" -gt "$rv2" ] && [ "$(j .data.k)" = v2 ]; echo $?)" "$(cat "$tmp/body")"
req PUT /api/v1/namespaces/t1/configmaps/c1 "{\"metadata\":{\"name\":\"c1\",\"resourceVersion\":\"$rv1\"},\"data\":{\"k\":\"v3\"}}"
check "PUT with a stale RV: 409 Conflict with the real message" \
    "$([ "$code" = 409 ] && [ "$(j .reason)" = Conflict ] && j .message | grep -q 'Operation cannot be fulfilled on configmaps "c1": the object has been modified; please apply your changes to the latest version and try again'; echo $?)" "$(cat "$tmp/body")"
req PUT /api/v1/namespaces/t1/configmaps/c1 "{\"metadata\":{\"name\":\"other\",\"resourceVersion\":\"$rv3\"}}"
check "PUT with another name: 400 'the name of the object (other) does not match the name on the URL (c1)'" \
    "$([ "$code" = 400 ] && [ "$(j .message)" = 'the name of the object (other) does not match the name on the URL (c1)' ]; echo $?)" "$(cat "$tmp/body")"
req PUT /api/v1/namespaces/t1/configmaps/c1 "{\"metadata\":{\"name\":\"c1\",\"resourceVersion\":\"$rv3\",\"labels\":{\"app\":\"a\",\"tier\":\"x\"}},\"data\":{\"k\":\"v2\"}}"
check "no-op PUT: 200 with the old RV" "$([ "$code" = 200 ] && [ "$(j .metadata.resourceVersion)" = "$rv3" ]; echo $?)" "$(cat "$tmp/body")"
req PATCH /api/v1/namespaces/t1/configmaps/c1 '{"data":{"k":null,"n":"1"},"$setElementOrder/x":[]}' application/strategic-merge-patch+json
check "strategic merge patch on a built-in: merged, null deletes, \$-directives dropped" \
    "$([ "$code" = 200 ] && [ "$(j '.data|keys|join(",")')" = n ] && [ "$(j '.["$setElementOrder/x"]')" = null ]; echo $?)" "$(cat "$tmp/body")"
req GET '/api/v1/namespaces/t1/configmaps?labelSelector=app%3Da,tier%20in%20(x,y)'
check "labelSelector 'app=a,tier in (x,y)': only c1" "$([ "$(j '[.items[].metadata.name]|join(",")')" = c1 ] && [ "$(j .kind)" = ConfigMapList ]; echo $?)" "$(j '[.items[].metadata.name]')"
req GET '/api/v1/namespaces/t1/configmaps?labelSelector=app!%3Da'
check "labelSelector 'app!=a': c2 and the generated one (no app label)" "$([ "$(j '.items|length')" = 2 ] && ! j '.items[].metadata.name' | grep -qx c1; echo $?)" "$(j '[.items[].metadata.name]')"
req GET '/api/v1/configmaps?fieldSelector=metadata.name%3Dc2'
check "all-namespaces list with fieldSelector metadata.name=c2: one item in t1" \
    "$([ "$(j '.items|length')" = 1 ] && [ "$(j '.items[0].metadata.namespace')" = t1 ]; echo $?)" "$(cat "$tmp/body")"
req GET '/api/v1/namespaces/t1/configmaps?limit=2'
tok=$(j .metadata.continue)
req GET "/api/v1/namespaces/t1/configmaps?limit=2&continue=$tok"
check "limit=2 then continue: 2 + 1 items, no continue on the last page" \
    "$([ -n "$tok" ] && [ "$tok" != null ] && [ "$(j '.items|length')" = 1 ] && [ "$(j '.metadata.continue')" = null ]; echo $?)" "$tok $(cat "$tmp/body")"
req DELETE /api/v1/namespaces/t1/configmaps/c2
check "delete: 200 Status Success with details.uid" "$([ "$code" = 200 ] && [ "$(j .status)" = Success ] && [ -n "$(j .details.uid)" ] && [ "$(j .details.kind)" = configmaps ]; echo $?)" "$(cat "$tmp/body")"
req POST /apis/coordination.k8s.io/v1/namespaces/t1/leases '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"a","leaseDurationSeconds":15}}'
lrv=$(j .metadata.resourceVersion)
req PUT /apis/coordination.k8s.io/v1/namespaces/t1/leases/l "{\"metadata\":{\"name\":\"l\",\"resourceVersion\":\"$lrv\"},\"spec\":{\"holderIdentity\":\"b\"}}"
req PUT /apis/coordination.k8s.io/v1/namespaces/t1/leases/l "{\"metadata\":{\"name\":\"l\",\"resourceVersion\":\"$lrv\"},\"spec\":{\"holderIdentity\":\"c\"}}"
check "leases: second PUT with the same RV loses (409), holder stays b" \
    "$([ "$code" = 409 ] && curl -s "$B/apis/coordination.k8s.io/v1/namespaces/t1/leases/l" | jq -e '.spec.holderIdentity=="b"' >/dev/null; echo $?)" "$(cat "$tmp/body")"

# ---- CRDs ----
for f in "$ROOT"/crds/*.yaml; do
    req POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(cat "$f")" application/yaml
    [ "$code" = 201 ] || bad "create CRD from $f (YAML body): got $code" "$(cat "$tmp/body")"
done
req GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/workerpools.azpool.dev
check "CRD workerpools.azpool.dev: Established and NamesAccepted True, storedVersions [v1alpha1]" \
    "$([ "$(j '.status.conditions[]|select(.type=="Established").status')" = True ] &&
        [ "$(j '.status.conditions[]|select(.type=="NamesAccepted").status')" = True ] && [ "$(j '.status.storedVersions[0]')" = v1alpha1 ]; echo $?)" "$(j .status)"
req GET /apis/azpool.dev/v1alpha1
check "/apis/azpool.dev/v1alpha1: workerpools (wp), workerpools/status, workerpools/scale as autoscaling/v1 Scale" \
    "$([ "$(j '.resources[]|select(.name=="workerpools").shortNames[0]')" = wp ] &&
        [ "$(j '.resources[]|select(.name=="workerpools/status").kind')" = WorkerPool ] &&
        [ "$(j '.resources[]|select(.name=="workerpools/scale")|.group+"/"+.version+"/"+.kind')" = autoscaling/v1/Scale ]; echo $?)" "$(head -c 400 "$tmp/body")"
WP=/apis/azpool.dev/v1alpha1/namespaces/t1/workerpools
pool='{"apiVersion":"azpool.dev/v1alpha1","kind":"WorkerPool","metadata":{"name":"p1"},"spec":{"subscriptionId":"11111111-2222-3333-4444-555555555555","resourceGroup":"rg","location":"westeurope","vmSize":"Standard_D2s_v5","network":{"subnetId":"/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s"},"image":{"id":"/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.0.0"},"replicas":2,"colour":"red"},"status":{"replicas":9}}'
req POST "$WP" "$pool"
check "create WorkerPool: 201, generation 1, status dropped, unknown spec.colour pruned, default spec.mode" \
    "$([ "$code" = 201 ] && [ "$(j .metadata.generation)" = 1 ] && [ "$(j .status)" = null ] && [ "$(j .spec.colour)" = null ] && [ "$(j .spec.mode)" = ScaleSet ]; echo $?)" "$(head -c 600 "$tmp/body")"
req POST "$WP?fieldValidation=Strict" "$(echo "$pool" | sed 's/"p1"/"p9"/')"
check "fieldValidation=Strict with an unknown field: 400 strict decoding error naming spec.colour" \
    "$([ "$code" = 400 ] && j .message | grep -q 'strict decoding error: unknown field "spec.colour"'; echo $?)" "$(cat "$tmp/body")"
req POST "$WP" "$(echo "$pool" | sed 's/"p1"/"bad"/; s/"replicas":2/"replicas":-1,"mode":"Nope"/; s/"vmSize":"Standard_D2s_v5",//')"
check "invalid WorkerPool: 422 Invalid, causes for spec.replicas (minimum), spec.mode (enum), spec.vmSize (required)" \
    "$([ "$code" = 422 ] && [ "$(j .reason)" = Invalid ] && [ "$(j .details.kind)" = WorkerPool ] && [ "$(j .details.group)" = azpool.dev ] &&
        [ "$(j '.details.causes[]|select(.field=="spec.replicas").reason')" = FieldValueInvalid ] &&
        [ "$(j '.details.causes[]|select(.field=="spec.mode").reason')" = FieldValueNotSupported ] &&
        [ "$(j '.details.causes[]|select(.field=="spec.vmSize").reason')" = FieldValueRequired ] &&
        j .message | grep -q '^WorkerPool.azpool.dev "bad" is invalid: \['; echo $?)" "$(cat "$tmp/body")"
req GET "$WP/bad"
check "the invalid pool was not stored" "$([ "$code" = 404 ] && [ "$(j .message)" = 'workerpools.azpool.dev "bad" not found' ]; echo $?)" "$(cat "$tmp/body")"
req POST "$WP" "$(echo "$pool" | sed 's/"p1"/"typ"/; s/"replicas":2/"replicas":"two"/')"
check "wrong type: 422 FieldValueTypeInvalid 'spec.replicas in body must be of type integer'" \
    "$([ "$code" = 422 ] && [ "$(j '.details.causes[0].reason')" = FieldValueTypeInvalid ] && j '.details.causes[0].message' | grep -q 'spec.replicas in body must be of type integer'; echo $?)" "$(cat "$tmp/body")"
req GET "$WP/p1"
prv=$(j .metadata.resourceVersion)
req PUT "$WP/p1" "$(echo "$pool" | sed 's/"colour":"red"//; s/,}/}/')"
check "PUT on a CR without resourceVersion: 422 'must be specified for an update'" \
    "$([ "$code" = 422 ] && j .message | grep -q 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update'; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1" '{"metadata":{"labels":{"x":"1"}}}' application/merge-patch+json
check "merge patch of labels only: generation stays 1, RV moves" "$([ "$code" = 200 ] && [ "$(j .metadata.generation)" = 1 ] && [ "$(j .metadata.resourceVersion)" != "$prv" ]; echo $?)" "$(j .metadata)"
req PATCH "$WP/p1" '[{"op":"replace","path":"/spec/replicas","value":3}]' application/json-patch+json
check "JSON patch of spec.replicas: generation 2" "$([ "$code" = 200 ] && [ "$(j .metadata.generation)" = 2 ] && [ "$(j .spec.replicas)" = 3 ]; echo $?)" "$(j .metadata)"
req PATCH "$WP/p1" '[{"op":"test","path":"/spec/replicas","value":99}]' application/json-patch+json
check "JSON patch with a failing test: 422" "$([ "$code" = 422 ] && [ "$(j .reason)" = Invalid ]; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1" '{"spec":{"replicas":4}}' application/strategic-merge-patch+json
check "strategic merge patch on a CR: 415 UnsupportedMediaType" "$([ "$code" = 415 ] && [ "$(j .reason)" = UnsupportedMediaType ]; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1" '{"spec":{"replicas":-5}}' application/merge-patch+json
check "merge patch to an invalid value: 422, stored object unchanged" \
    "$([ "$code" = 422 ] && curl -s "$B$WP/p1" | jq -e '.spec.replicas==3' >/dev/null; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1" '{"metadata":{"resourceVersion":"1"},"spec":{"replicas":4}}' application/merge-patch+json
check "resourceVersion inside a patch is a precondition: 409" "$([ "$code" = 409 ]; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1/status" '{"status":{"replicas":3,"observedGeneration":2},"spec":{"replicas":50}}' application/merge-patch+json
check "/status patch: status set, spec ignored, generation unchanged" \
    "$([ "$code" = 200 ] && [ "$(j .status.replicas)" = 3 ] && [ "$(j .spec.replicas)" = 3 ] && [ "$(j .metadata.generation)" = 2 ]; echo $?)" "$(j '{spec:.spec.replicas,status:.status,gen:.metadata.generation}')"
req PATCH "$WP/p1" '{"status":{"replicas":77}}' application/merge-patch+json
check "main-resource patch of status: ignored (status subresource)" "$([ "$(j .status.replicas)" = 3 ]; echo $?)" "$(j .status)"
req GET "$WP/p1/scale"
check "GET /scale: autoscaling/v1 Scale with spec.replicas 3 and status.replicas 3" \
    "$([ "$(j .kind)" = Scale ] && [ "$(j .apiVersion)" = autoscaling/v1 ] && [ "$(j .spec.replicas)" = 3 ] && [ "$(j .status.replicas)" = 3 ]; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1/scale" '{"spec":{"replicas":6}}' application/merge-patch+json
check "PATCH /scale replicas 6: Scale answer, pool spec.replicas 6, generation 3" \
    "$([ "$(j .spec.replicas)" = 6 ] && curl -s "$B$WP/p1" | jq -e '.spec.replicas==6 and .metadata.generation==3' >/dev/null; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1/scale" '{"spec":{"replicas":-1}}' application/merge-patch+json
check "PATCH /scale negative: 422" "$([ "$code" = 422 ]; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/ssa?fieldManager=t" "$(echo "$pool" | sed 's/"p1"/"ssa"/; s/,"colour":"red"//')" application/apply-patch+yaml
check "apply patch on a missing object: 201 created" "$([ "$code" = 201 ] && [ "$(j .metadata.name)" = ssa ]; echo $?)" "$(head -c 300 "$tmp/body")"
req PATCH "$WP/ssa?fieldManager=t2&force=true" '{"apiVersion":"azpool.dev/v1alpha1","kind":"WorkerPool","metadata":{"name":"ssa","labels":{"l":"1"}},"spec":{"replicas":5}}' application/apply-patch+yaml
check "apply patch by a second manager: merged (replicas 5, vmSize of the first kept), generation 2" \
    "$([ "$code" = 200 ] && [ "$(j .spec.replicas)" = 5 ] && [ "$(j .spec.vmSize)" = Standard_D2s_v5 ] && [ "$(j .metadata.generation)" = 2 ]; echo $?)" "$(head -c 300 "$tmp/body")"
req PATCH "$WP/ssa?fieldManager=t2" '{"apiVersion":"azpool.dev/v1alpha1","kind":"WorkerPool","metadata":{"name":"ssa"},"spec":{}}' application/apply-patch+yaml
check "the same manager applying without its label and replicas: both removed, vmSize kept" \
    "$([ "$code" = 200 ] && [ "$(j .metadata.labels.l)" = null ] && [ "$(j .spec.replicas)" = null ] && [ "$(j .spec.vmSize)" = Standard_D2s_v5 ]; echo $?)" "$(j '{labels:.metadata.labels,replicas:.spec.replicas}')"
req PATCH "$WP/ssa" '{"spec":{"replicas":5}}' application/apply-patch+yaml
check "apply patch without fieldManager: 422 'fieldManager: Required value'" "$([ "$code" = 422 ] && j .message | grep -q 'fieldManager: Required value'; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/ssa?force=true" '{"spec":{"replicas":5}}' application/merge-patch+json
check "force on a non-apply patch: 422" "$([ "$code" = 422 ]; echo $?)" "$(cat "$tmp/body")"

# ---- finalizers ----
req PATCH "$WP/p1" '{"metadata":{"finalizers":["azpool.dev/cleanup"]}}' application/merge-patch+json
req DELETE "$WP/p1" '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Background"}'
check "DELETE with a finalizer: 200 object with deletionTimestamp, generation +1" \
    "$([ "$code" = 200 ] && [ "$(j .metadata.deletionTimestamp)" != null ] && [ "$(j .metadata.generation)" = 4 ]; echo $?)" "$(j .metadata)"
req PATCH "$WP/p1" '{"metadata":{"finalizers":["azpool.dev/cleanup","x/y"]}}' application/merge-patch+json
check "adding a finalizer while deleting: 422 'no new finalizers can be added'" "$([ "$code" = 422 ] && j .message | grep -q 'no new finalizers can be added if the object is being deleted'; echo $?)" "$(cat "$tmp/body")"
req PATCH "$WP/p1" '{"metadata":{"finalizers":null}}' application/merge-patch+json
check "removing the last finalizer: 200, then the object is gone (404)" "$([ "$code" = 200 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$B$WP/p1")" = 404 ]; echo $?)" "$(cat "$tmp/body")"

# ---- Table ----
TAB='application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'
req GET "$WP" "" application/json "$TAB"
check "Table list: Name + the CRD's printer columns (Mode, Replicas, ... Age), rows with PartialObjectMetadata" \
    "$([ "$(j .kind)" = Table ] && [ "$(j '[.columnDefinitions[].name]|.[0:3]|join(",")')" = Name,Mode,Replicas ] &&
        [ "$(j '.columnDefinitions[-1].name')" = Age ] && [ "$(j '.rows[0].object.kind')" = PartialObjectMetadata ] &&
        [ "$(j '.rows[0].cells[0]')" = ssa ] && [ "$(j '.rows[0].cells[1]')" = ScaleSet ] && j '.rows[0].cells[-1]' | grep -Eq '^[0-9]+s$'; echo $?)" "$(head -c 500 "$tmp/body")"
req GET /api/v1/namespaces/t1/configmaps/c1 "" application/json "$TAB"
check "Table for one built-in object: Name and Age" "$([ "$(j '[.columnDefinitions[].name]|join(",")')" = Name,Age ] && [ "$(j '.rows|length')" = 1 ]; echo $?)" "$(head -c 300 "$tmp/body")"

# ---- watch ----
wlog=$tmp/watch.out
req GET /api/v1/namespaces/t1/configmaps
lrv=$(j .metadata.resourceVersion)
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=$lrv&timeoutSeconds=3" >"$wlog" &
wpid=$!
sleep 0.5
req PATCH /api/v1/namespaces/t1/configmaps/c1 '{"data":{"w":"1"}}' application/merge-patch+json
sleep 0.3
first=$(head -n1 "$wlog")
check "live watch from the list RV: the change arrives as one MODIFIED line within 0.3 s" \
    "$([ "$(echo "$first" | jq -r .type)" = MODIFIED ] && [ "$(echo "$first" | jq -r .object.data.w)" = 1 ]; echo $?)" "$first"
t0=$(date +%s%N)
wait $wpid
el=$(( ($(date +%s%N) - t0) / 1000000 ))
check "timeoutSeconds=3 ends the stream cleanly (curl exit 0, about 3 s)" "$([ $el -lt 3500 ] && [ "$(wc -l <"$wlog")" = 1 ]; echo $?)" "elapsed after change ${el} ms, $(wc -l <"$wlog") lines"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=$lrv&timeoutSeconds=1" >"$wlog"
check "watch from an old RV replays history: MODIFIED of c1 only" "$([ "$(jq -r .type "$wlog" | tr '\n' ,)" = MODIFIED, ]; echo $?)" "$(cat "$wlog")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&timeoutSeconds=1" >"$wlog"
check "watch without RV: synthetic ADDED for each current object (2)" "$([ "$(jq -r .type "$wlog" | sort -u)" = ADDED ] && [ "$(wc -l <"$wlog")" = 2 ]; echo $?)" "$(cat "$wlog")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&fieldSelector=metadata.name%3Dc1&resourceVersion=0&timeoutSeconds=1" >"$wlog"
check "watch with fieldSelector metadata.name=c1 and RV 0: one ADDED for c1" "$([ "$(wc -l <"$wlog")" = 1 ] && [ "$(jq -r .object.metadata.name "$wlog")" = c1 ]; echo $?)" "$(cat "$wlog")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=$(curl -s "$B/_kubesim/stats" | jq -r .resourceVersion)&allowWatchBookmarks=true&timeoutSeconds=3" >"$wlog"
check "allowWatchBookmarks with --bookmark-seconds 1: BOOKMARK events with kind ConfigMap and a resourceVersion" \
    "$([ "$(jq -r 'select(.type=="BOOKMARK")|.object.kind' "$wlog" | head -n1)" = ConfigMap ] && [ -n "$(jq -r 'select(.type=="BOOKMARK")|.object.metadata.resourceVersion' "$wlog" | head -n1)" ]; echo $?)" "$(cat "$wlog")"
curl -sN -H "Accept: $TAB" "$B$WP?watch=1&resourceVersion=0&timeoutSeconds=1" >"$wlog"
check "Table watch: events whose object is a Table, columnDefinitions in the first" \
    "$([ "$(head -n1 "$wlog" | jq -r .object.kind)" = Table ] && [ "$(head -n1 "$wlog" | jq -r '.object.columnDefinitions|length')" -gt 2 ]; echo $?)" "$(head -c 300 "$wlog")"
req POST /_kubesim/compact
check "POST /_kubesim/compact: compactedRV" "$([ "$code" = 200 ] && [ -n "$(j .compactedRV)" ]; echo $?)" "$(cat "$tmp/body")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=$lrv" >"$wlog"
check "watch from a compacted RV: 200 stream with one ERROR 410 Expired 'too old resource version', then the end" \
    "$([ "$(wc -l <"$wlog")" = 1 ] && [ "$(jq -r .type "$wlog")" = ERROR ] && [ "$(jq -r .object.code "$wlog")" = 410 ] && [ "$(jq -r .object.reason "$wlog")" = Expired ] && jq -r .object.message "$wlog" | grep -q '^too old resource version'; echo $?)" "$(cat "$wlog")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=$(curl -s "$B/_kubesim/stats" | jq -r .resourceVersion)" >"$wlog" &
wpid=$!
sleep 0.5
req POST /_kubesim/watches/drop
dropped=$(j .dropped)
timeout 3 tail --pid=$wpid -f /dev/null
check "POST /_kubesim/watches/drop: dropped >= 1 and the open watch ends" "$([ "$dropped" -ge 1 ] && ! kill -0 $wpid 2>/dev/null; echo $?)" "dropped=$dropped"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&labelSelector=app%3Da&resourceVersion=$(curl -s "$B/_kubesim/stats" | jq -r .resourceVersion)&timeoutSeconds=2" >"$wlog" &
wpid=$!
sleep 0.4
req PATCH /api/v1/namespaces/t1/configmaps/c1 '{"metadata":{"labels":{"app":"z"}}}' application/merge-patch+json
req PATCH /api/v1/namespaces/t1/configmaps/c1 '{"metadata":{"labels":{"app":"a"}}}' application/merge-patch+json
wait $wpid
check "watch with labelSelector app=a: c1 leaving the selector is DELETED, coming back is ADDED" \
    "$([ "$(jq -r .type "$wlog" | tr '\n' ,)" = DELETED,ADDED, ]; echo $?)" "$(cat "$wlog")"
curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=0&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true" >"$wlog"
check "watch with sendInitialEvents: 422 (clients fall back to list+watch)" "$(jq -e '.code==422' "$wlog" >/dev/null; echo $?)" "$(cat "$wlog")"

curl -sN "$B/api/v1/namespaces/t1/configmaps?watch=1&resourceVersion=999999" >"$wlog"
check "watch from an RV above the current one: ERROR 504 'Too large resource version', then the end" \
    "$([ "$(wc -l <"$wlog")" = 1 ] && [ "$(jq -r .object.code "$wlog")" = 504 ] && jq -r .object.message "$wlog" | grep -q '^Too large resource version: 999999'; echo $?)" "$(cat "$wlog")"

# ---- the project's manifests against the CRDs served by kubesim (schema, metadata, CEL) ----
"$PY" "$ROOT/tests/conformance/kubesim_corpus.py" "$B" "$ROOT" >"$tmp/corpus.out" 2>&1
check "manifests/examples accepted; every expressible tests/cases/invalid case rejected; 465 mutations: same verdict as crdcheck.py" "$?" "$(cat "$tmp/corpus.out")"

# ---- CRD and namespace removal ----
req DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/workerpools.azpool.dev
check "deleting the CRD: its objects and its API go (404)" "$([ "$code" = 200 ] && [ "$(curl -s -o /dev/null -w '%{http_code}' "$B$WP/ssa")" = 404 ] &&
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/apis/azpool.dev/v1alpha1/workerpools")" = 404 ]; echo $?)" "$(cat "$tmp/body")"
req DELETE /api/v1/namespaces/t1
check "deleting namespace t1: its configmaps go" "$([ "$code" = 200 ] && [ "$(curl -s "$B/api/v1/configmaps?fieldSelector=metadata.namespace%3Dt1" | jq '.items|length')" = 0 ]; echo $?)" "$(cat "$tmp/body")"
check "kubesim still running" "$(kill -0 "${pids[0]}"; echo $?)"

# ---- TLS ----
port2=$(freeport)
if start "$tmp/b" "$port2" --tls; then
    tls_pid=$last_pid
    line=$(head -n1 "$tmp/b/log")
    ca=$(awk '/certificate-authority-data:/ {print $2}' "$tmp/b/kubeconfig" | base64 -d 2>/dev/null)
    printf '%s\n' "$ca" >"$tmp/b/ca-from-kubeconfig.pem"
    v=$(curl -s --cacert "$tmp/b/ca-from-kubeconfig.pem" "https://127.0.0.1:$port2/version" | jq -r .major)
    check "--tls: 'kubesim listening on https://127.0.0.1:$port2', kubeconfig carries the CA, curl verifies it" \
        "$([ "$line" = "kubesim listening on https://127.0.0.1:$port2" ] && [ "$v" = 1 ]; echo $?)" "$line v=$v"
else
    bad "--tls: kubesim did not start" "$(cat "$tmp/b/log")"
fi
kill "${tls_pid:-0}" 2>/dev/null
wait "${tls_pid:-0}" 2>/dev/null
check "SIGTERM: exit status 0" "$?"

# ---- --token ----
port4=$(freeport)
start "$tmp/d" "$port4" --token s3cret-1
c1=$(curl -s -o "$tmp/body" -w '%{http_code}' "http://127.0.0.1:$port4/api/v1/namespaces")
r1=$(j .reason)
c2=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-1' "http://127.0.0.1:$port4/api/v1/namespaces")
c3=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "http://127.0.0.1:$port4/api/v1/namespaces")
check "--token: kubeconfig carries it; no or a wrong token 401 Unauthorized Status, the right one 200" \
    "$([ "$c1" = 401 ] && [ "$r1" = Unauthorized ] && [ "$c2" = 200 ] && [ "$c3" = 401 ] && grep -q 'token: s3cret-1' "$tmp/d/kubeconfig"; echo $?)" "$c1 $r1 $c2 $c3"

# ---- --rbac: ServiceAccount tokens (TokenRequest), RBAC, SelfSubjectAccessReview, Impersonate-User ----
port5=$(freeport)
start "$tmp/e" "$port5" --rbac
B=http://127.0.0.1:$port5
req POST /api/v1/namespaces '{"metadata":{"name":"x"}}'
req POST /api/v1/namespaces/x/serviceaccounts '{"metadata":{"name":"bot"}}'
req POST /apis/rbac.authorization.k8s.io/v1/namespaces/x/roles '{"metadata":{"name":"r"},"rules":[{"apiGroups":[""],"resources":["configmaps"],"verbs":["get"]},{"apiGroups":[""],"resources":["secrets"],"resourceNames":["s1"],"verbs":["get"]}]}'
req POST /apis/rbac.authorization.k8s.io/v1/namespaces/x/rolebindings '{"metadata":{"name":"rb"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},"subjects":[{"kind":"ServiceAccount","name":"bot","namespace":"x"}]}'
req POST /api/v1/namespaces/x/serviceaccounts/bot/token '{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"expirationSeconds":600}}'
tok=$(j .status.token)
check "--rbac: POST serviceaccounts/bot/token (TokenRequest) 201 with status.token and expirationTimestamp" \
    "$([ "$code" = 201 ] && [ "$(j .kind)" = TokenRequest ] && [ -n "$tok" ] && [ "$(j .status.expirationTimestamp)" != null ]; echo $?)" "$code $(cat "$tmp/body")"
as_bot() { # METHOD PATH [BODY] -> $code, $tmp/body
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' ${3:+--data-binary "$3"} "$B$2")
}
as_bot GET /api/v1/namespaces/x/configmaps/c1
c_get=$code
as_bot GET /api/v1/namespaces/x/configmaps
c_list=$code
check "--rbac: the ServiceAccount may get configmaps (404: allowed, absent) but not list them (403 Forbidden, the real message)" \
    "$([ "$c_get" = 404 ] && [ "$c_list" = 403 ] && [ "$(j .reason)" = Forbidden ] &&
        [ "$(j .message)" = 'configmaps is forbidden: User "system:serviceaccount:x:bot" cannot list resource "configmaps" in API group "" in the namespace "x"' ]; echo $?)" "$c_get $c_list $(cat "$tmp/body")"
as_bot GET /api/v1/namespaces/x/secrets/s1
c1=$code
as_bot GET /api/v1/namespaces/x/secrets/s2
c2=$code
as_bot GET /api/v1/namespaces/default/configmaps/c1
c3=$code
check "--rbac: resourceNames limit get to secrets/s1; a Role grants nothing in other namespaces" \
    "$([ "$c1" = 404 ] && [ "$c2" = 403 ] && [ "$c3" = 403 ]; echo $?)" "$c1 $c2 $c3"
as_bot POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews '{"spec":{"resourceAttributes":{"namespace":"x","verb":"get","resource":"configmaps"}}}'
a1=$(j .status.allowed)
as_bot POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews '{"spec":{"resourceAttributes":{"namespace":"x","verb":"delete","resource":"configmaps"}}}'
a2=$(j .status.allowed)
check "--rbac: SelfSubjectAccessReview (kubectl auth can-i) answers for the caller: get yes, delete no" \
    "$([ "$code" = 201 ] && [ "$a1" = true ] && [ "$a2" = false ]; echo $?)" "$code $a1 $a2"
i1=$(curl -s -o /dev/null -w '%{http_code}' -H 'Impersonate-User: system:serviceaccount:x:bot' "$B/api/v1/namespaces/x/configmaps")
i2=$(curl -s -o /dev/null -w '%{http_code}' -H 'Impersonate-User: system:serviceaccount:x:bot' "$B/api/v1/namespaces/x/configmaps/c1")
w1=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$B/api/v1/namespaces")
a0=$(curl -s -o /dev/null -w '%{http_code}' "$B/api/v1/namespaces")
curl -s -o /dev/null -X DELETE "$B/api/v1/namespaces/x/serviceaccounts/bot"
as_bot GET /api/v1/namespaces/x/configmaps/c1
check "--rbac: Impersonate-User acts as that user; no credentials over HTTP = administrator; a wrong token or a deleted ServiceAccount's token 401" \
    "$([ "$i1" = 403 ] && [ "$i2" = 404 ] && [ "$w1" = 401 ] && [ "$a0" = 200 ] && [ "$code" = 401 ]; echo $?)" "$i1 $i2 $w1 $a0 $code"
req GET /_kubesim/denied
check "--rbac: GET /_kubesim/denied lists the 403s (4 so far), oldest first, with user, verb, resource and namespace" \
    "$([ "$(j .forbidden)" = 4 ] && [ "$(j '.items[0]|[.user,.verb,.group,.resource,.namespace,.name]|join(" ")')" = "system:serviceaccount:x:bot list  configmaps x " ] &&
        [ "$(j '.items[1]|[.verb,.resource,.name]|join(" ")')" = "get secrets s2" ]; echo $?)" "$(cat "$tmp/body")"

# ---- --state: objects, CRD types and the RV counter survive a clean restart ----
port3=$(freeport)
start "$tmp/c" "$port3" --state "$tmp/c/state.json"
B=http://127.0.0.1:$port3
req POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$(cat "$ROOT/crds/workerpools.yaml")" application/yaml
req POST /apis/azpool.dev/v1alpha1/namespaces/default/workerpools "$(echo "$pool" | sed 's/,"colour":"red"//')"
srv=$(j .metadata.resourceVersion)
kill "$last_pid"
wait "$last_pid"
st=$?
start "$tmp/c" "$port3" --state "$tmp/c/state.json"
req GET /apis/azpool.dev/v1alpha1/namespaces/default/workerpools/p1
code1=$code
req POST /api/v1/namespaces/default/configmaps '{"metadata":{"name":"after"}}'
check "--state: SIGTERM saves (exit 0), restart serves the WorkerPool with the same RV, new writes get larger RVs" \
    "$([ "$st" = 0 ] && [ "$code1" = 200 ] && [ "$(j .metadata.resourceVersion)" -gt "$srv" ]; echo $?)" "exit=$st get=$code1 rv $srv -> $(j .metadata.resourceVersion)"
curl -sN -m 5 "$B/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=2&timeoutSeconds=2" >"$wlog"
check "--state: a watch from before the restart gets 410 Expired" "$([ "$(jq -r .object.code "$wlog")" = 410 ]; echo $?)" "$(cat "$wlog")"

finish
