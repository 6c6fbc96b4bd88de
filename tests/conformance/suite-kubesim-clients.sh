#!/usr/bin/env bash
# suite-kubesim-clients.sh - real Kubernetes clients against kubesim (issue 6, "Conformance").
#
# Starts $BUILD/kubesim (KUBESIM=path overrides) on a free port in a temp dir (--bookmark-seconds 1;
# always killed on exit), then, with kubectl 1.20 (Debian's kubernetes-client unpacked by
# hack/install-deps.sh into build/tools/kubectl-1.20; KUBECTL_120 overrides) and kubectl 1.32
# (google-cloud-cli's kubectl.1.32, called directly because /usr/bin/kubectl is a dispatcher that
# picks a binary by the server's /version; KUBECTL_132 overrides), each in its own namespace k120 /
# k132:
#   version (server /version), apply crds/ (+ wait Established), apply namespaces, create namespace
#   (protobuf body from 1.32), apply manifests/examples (twice: created, then unchanged), get azpool -A
#   (category), apply a pool x, apply it changed (configured; generation rules; -l selector), get
#   (default, -o wide, -A, -o yaml, -o json), get -w on the collection and on x (a change made
#   meanwhile must show up), describe (with an Event created through the API), scale wp/x
#   --replicas=5, status through /status (python; kubectl patch --subresource=status and the 415 for
#   strategic merge with 1.32), wait --for=condition=Ready (started before Ready is set; then the
#   STATUS printer column shows Ready's reason), apply of an invalid WorkerPool rejected with the
#   field path (schema minimum and a CEL rule), an unknown field (Strict error with 1.32; pruned plus
#   the server's Warning with 1.20), delete, delete that waits for a finalizer;
# then the python3-kubernetes checks of tests/conformance/kubesim_clients.py (create, 409, 422
# causes, status/scale subresources, stale-RV conflict, watch with resourceVersion, bookmarks,
# 410 after POST /_kubesim/compact handled by relist + rewatch, /_kubesim/watches/drop); finally a
# second kubesim with --tls, reached by both kubectl versions and python through the CA in its kubeconfig.
#
# Every check is numbered; prints "N passed, N failed" last, exits 1 on any failure. A missing
# kubesim binary is a failure (not a skip). HOME is the temp dir so kubectl's discovery cache never
# leaks between runs (kubectl 1.20 ignores KUBECACHEDIR). Not in tests/suites.list until kubesim
# passes it. KS_KEEP=1 keeps the temp dir (its path is printed).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
PY=/usr/bin/python3
HELPER=$ROOT/tests/conformance/kubesim_clients.py
KS=${KUBESIM:-$BUILD/kubesim}
K120=${KUBECTL_120:-$ROOT/build/tools/kubectl-1.20/usr/bin/kubectl}
K132=${KUBECTL_132:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
export PYTHONDONTWRITEBYTECODE=1

. tests/conformance/lib-checks.sh

if ! [ -x "$KS" ]; then
    bad "kubesim binary $KS is missing (build it: make BUILD=$BUILD)"
    finish
fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import kubernetes, yaml' 2>/dev/null; then
    bad "$PY with python3-kubernetes and python3-yaml is needed (run hack/install-deps.sh)"
    finish
fi

tmp=$(mktemp -d /tmp/ks-clients.XXXXXX)
kspid=
cleanup() {
    [ -n "$kspid" ] && kill "$kspid" 2>/dev/null && wait "$kspid" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
    if [ "${KS_KEEP:-0}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/ks" "$tmp/home"
"$KS" --port "$port" --dir "$tmp/ks" --bookmark-seconds 1 >"$tmp/ks.log" 2>&1 &
kspid=$!
for _ in $(seq 100); do
    grep -q 'kubesim listening on' "$tmp/ks.log" 2>/dev/null && break
    kill -0 "$kspid" 2>/dev/null || break
    sleep 0.1
done
if grep -q "kubesim listening on http://127.0.0.1:$port" "$tmp/ks.log" && [ -s "$tmp/ks/kubeconfig" ]; then
    ok "kubesim prints 'kubesim listening on http://127.0.0.1:$port' and writes kubeconfig"
else
    bad "kubesim did not start on port $port (no listening line or no kubeconfig within 10 s)" "$(cat "$tmp/ks.log")"
    finish
fi
export HOME=$tmp/home KUBECONFIG=$tmp/ks/kubeconfig

# ---- fixtures ----
cat >"$tmp/namespaces.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: build}
---
apiVersion: v1
kind: Namespace
metadata: {name: ci}
---
apiVersion: v1
kind: Namespace
metadata: {name: automation}
---
apiVersion: v1
kind: Namespace
metadata: {name: k120}
---
apiVersion: v1
kind: Namespace
metadata: {name: k132}
EOF
pool() { # NS NAME REPLICAS [extra spec line]
    cat <<EOF
apiVersion: azpool.dev/v1alpha1
kind: WorkerPool
metadata: {name: $2, namespace: $1}
spec:
  subscriptionId: 11111111-2222-3333-4444-555555555555
  resourceGroup: rg
  location: westeurope
  vmSize: Standard_D2s_v5
  image: {publisher: Canonical, offer: ubuntu, sku: 22_04-lts}
  network: {subnetId: /subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s}
  replicas: $3
${4:-}
EOF
}
example_docs=$(cat manifests/examples/*.yaml | grep -c '^kind:')

# run OUTFILE CMD... : run with a 60 s cap, stdout+stderr to OUTFILE, return the exit code
run() {
    local out=$1
    shift
    timeout 60 "$@" >"$out" 2>&1
}
jp() { "$PY" "$HELPER" jpath "$1"; }

kubectl_checks() { # VERSION-TAG KUBECTL
    local v=$1 K=$2 ns=k$1 o=$tmp/out
    if ! [ -x "$K" ]; then
        bad "kubectl $v: $K missing (hack/install-deps.sh unpacks 1.20; 1.32 is google-cloud-cli's kubectl.1.32)"
        return
    fi
    echo "# kubectl $v: $("$K" version --client 2>/dev/null | head -1)"
    if run "$o" "$K" version && grep -qE '^Server Version: (v1\.[0-9]+\.[0-9]+|version\.Info\{Major:"1", Minor:"[0-9]+")' "$o"; then
        ok "kubectl $v version: Server Version from /version"
    else
        bad "kubectl $v version: expected a 'Server Version:' line (GET /version)" "$(cat "$o")"
    fi

    if run "$o" "$K" apply -f crds/ && [ "$(grep -cE '^customresourcedefinition.apiextensions.k8s.io/[a-z]+.azpool.dev (created|unchanged|configured)$' "$o")" = 3 ]; then
        ok "kubectl $v apply -f crds/: 3 CRDs created/unchanged"
    else
        bad "kubectl $v apply -f crds/" "$(cat "$o")"
    fi
    if run "$o" "$K" wait --for=condition=Established --timeout=20s customresourcedefinitions/workerpools.azpool.dev; then
        ok "kubectl $v wait --for=condition=Established customresourcedefinitions/workerpools.azpool.dev"
    else
        bad "kubectl $v wait --for=condition=Established customresourcedefinitions/workerpools.azpool.dev" "$(cat "$o")"
    fi
    if run "$o" "$K" apply -f "$tmp/namespaces.yaml" && [ "$(grep -cE '^namespace/[a-z0-9]+ (created|unchanged|configured)$' "$o")" = 5 ]; then
        ok "kubectl $v apply of 5 Namespaces (build ci automation k120 k132)"
    else
        bad "kubectl $v apply of 5 Namespaces" "$(cat "$o")"
    fi
    # kubectl create of a built-in: 1.32 sends it as protobuf (Content-Type application/vnd.kubernetes.protobuf)
    if run "$o" "$K" create namespace "c$v" && grep -qx "namespace/c$v created" "$o" &&
        run "$o" "$K" get namespace "c$v" -o json && [ "$(jp metadata.name <"$o")" = "c$v" ]; then
        ok "kubectl $v create namespace c$v (1.32: protobuf body): created and readable"
    else
        bad "kubectl $v create namespace c$v" "$(cat "$o")"
    fi
    if run "$o" "$K" apply -f manifests/examples/ && [ "$(grep -cE '\.azpool\.dev/[a-z0-9-]+ (created|unchanged|configured)$' "$o")" = "$example_docs" ]; then
        ok "kubectl $v apply -f manifests/examples/: $example_docs objects"
    else
        bad "kubectl $v apply -f manifests/examples/ (expected $example_docs objects)" "$(cat "$o")"
    fi
    if run "$o" "$K" apply -f manifests/examples/ && [ "$(grep -cE '\.azpool\.dev/[a-z0-9-]+ unchanged$' "$o")" = "$example_docs" ]; then
        ok "kubectl $v apply -f manifests/examples/ again: all $example_docs unchanged"
    else
        bad "kubectl $v apply -f manifests/examples/ again: expected all unchanged" "$(cat "$o")"
    fi

    if run "$o" "$K" get azpool -A && grep -qE '^ci +workerpool\.azpool\.dev/github-runners ' "$o" &&
        grep -qE '^build +imageversion\.azpool\.dev/ado-agent-ubuntu ' "$o" && grep -qE ' +expirypolicy\.azpool\.dev/' "$o"; then
        ok "kubectl $v get azpool -A (the CRDs' category): WorkerPools, ImageVersions and ExpiryPolicies"
    else
        bad "kubectl $v get azpool -A: expected rows for workerpool/imageversion/expirypolicy .azpool.dev" "$(cat "$o")"
    fi

    pool "$ns" x 2 >"$tmp/x-$v.yaml"
    if run "$o" "$K" apply -f "$tmp/x-$v.yaml" && grep -qx 'workerpool.azpool.dev/x created' "$o"; then
        ok "kubectl $v apply WorkerPool $ns/x: created"
    else
        bad "kubectl $v apply WorkerPool $ns/x" "$(cat "$o")"
    fi

    # apply of a changed manifest: merge patch, "configured"; generation follows spec changes only
    pool "$ns" x 3 >"$tmp/x3-$v.yaml"
    local gen
    run "$o.a" "$K" apply -f "$tmp/x3-$v.yaml"
    run "$o" "$K" get wp x -n "$ns" -o json
    if grep -qx 'workerpool.azpool.dev/x configured' "$o.a" && [ "$(jp spec.replicas <"$o")" = 3 ] && [ "$(jp metadata.generation <"$o")" = 2 ]; then
        ok "kubectl $v apply of x with replicas 3: configured (merge patch), spec.replicas 3, generation 2"
    else
        bad "kubectl $v apply of a changed x: expected 'configured', spec.replicas 3, generation 2; got spec.replicas '$(jp spec.replicas <"$o")', generation '$(jp metadata.generation <"$o")'" "$(cat "$o.a")"
    fi
    sed -i 's/^metadata: {name: x, namespace: \(k[0-9]*\)}$/metadata: {name: x, namespace: \1, labels: {tier: test}}/' "$tmp/x3-$v.yaml"
    run "$o.a" "$K" apply -f "$tmp/x3-$v.yaml"
    run "$o" "$K" get wp -n "$ns" -l tier=test -o json
    if grep -qx 'workerpool.azpool.dev/x configured' "$o.a" && [ "$(jp items.0.metadata.name <"$o")" = x ] && [ "$(jp items.0.metadata.generation <"$o")" = 2 ]; then
        ok "kubectl $v apply adding a label: configured, generation stays 2; get -l tier=test finds x"
    else
        bad "kubectl $v apply adding label tier=test: expected 'configured', get -l tier=test listing x with generation 2" "$(cat "$o.a" "$o")"
    fi

    # get (Table)
    if run "$o" "$K" get wp -n "$ns" && head -1 "$o" | grep -qE '^NAME +MODE +REPLICAS +READY +UPDATED +IMAGE +STATUS +AGE$' &&
        grep -qE '^x +ScaleSet ' "$o"; then
        ok "kubectl $v get wp: printer columns NAME MODE REPLICAS READY UPDATED IMAGE STATUS AGE, row x ScaleSet"
    else
        bad "kubectl $v get wp: expected header 'NAME MODE REPLICAS READY UPDATED IMAGE STATUS AGE' (priority-0 columns) and row 'x ScaleSet ...'" "$(cat "$o")"
    fi
    if run "$o" "$K" get wp -n "$ns" -o wide && head -1 "$o" | grep -qE '^NAME +MODE +REPLICAS +READY +UPDATED +IMAGE +STATUS +DESIRED +EXPIRING +MESSAGE +AGE$'; then
        ok "kubectl $v get wp -o wide: priority-1 columns DESIRED EXPIRING MESSAGE"
    else
        bad "kubectl $v get wp -o wide: expected header 'NAME MODE REPLICAS READY UPDATED IMAGE STATUS DESIRED EXPIRING MESSAGE AGE'" "$(cat "$o")"
    fi
    if run "$o" "$K" get wp -A && grep -qE "^$ns +x " "$o" && grep -qE '^ci +github-runners ' "$o"; then
        ok "kubectl $v get wp -A: NAMESPACE column, pools of several namespaces"
    else
        bad "kubectl $v get wp -A: expected rows '$ns x' and 'ci github-runners'" "$(cat "$o")"
    fi
    if run "$o" "$K" get wp x -n "$ns" -o yaml &&
        [ "$("$PY" -c 'import sys,yaml; o=yaml.safe_load(open(sys.argv[1])); m=o["metadata"]; print(o["kind"], m["name"], m.get("generation"), bool(m.get("uid")), bool(m.get("resourceVersion")), bool(m.get("creationTimestamp")), o["spec"]["replicas"], "kubectl.kubernetes.io/last-applied-configuration" in m.get("annotations",{}))' "$o" 2>&1)" = "WorkerPool x 2 True True True 3 True" ]; then
        ok "kubectl $v get wp x -o yaml: kind, uid, resourceVersion, creationTimestamp, generation 2, spec.replicas 3, last-applied annotation"
    else
        bad "kubectl $v get wp x -o yaml" "$(cat "$o")"
    fi
    if run "$o" "$K" get wp -n "$ns" -o json && [ "$(jp items.0.metadata.name <"$o")" = x ] && [ "$(jp items.0.kind <"$o")" = WorkerPool ]; then
        ok "kubectl $v get wp -o json: a List whose item is WorkerPool x"
    else
        bad "kubectl $v get wp -o json" "$(cat "$o")"
    fi

    # get -w: collection, then named; a change made meanwhile must be printed
    for what in collection named; do
        local lbl="w$RANDOM" args want
        if [ "$what" = collection ]; then
            # Table events (default printer): the change shows as a second row for x
            args=(get wp -n "$ns" -w)
            want='^x +ScaleSet '
        else
            # named: watch from resourceVersion 0, kubectl hides the synthetic ADDED; JSON events
            args=(get wp x -n "$ns" -w -o 'custom-columns=NAME:.metadata.name,TOUCH:.metadata.labels.touch')
            want='^x +'
        fi
        timeout 8 "$K" "${args[@]}" >"$o.w" 2>&1 &
        local wpid=$!
        sleep 1.5
        "$PY" "$HELPER" touch "$ns" x "$lbl" 2>>"$o.w"
        for _ in $(seq 40); do [ "$(grep -cE "$want" "$o.w")" -ge 2 ] && break; sleep 0.1; done
        kill "$wpid" 2>/dev/null
        wait "$wpid" 2>/dev/null
        if [ "$(grep -cE "$want" "$o.w")" = 2 ] && { [ "$what" = collection ] || grep -qE "^x +$lbl\$" "$o.w"; }; then
            ok "kubectl $v get -w ($what): the initial row, then one more row for the change (label touch=$lbl) within 4 s"
        else
            bad "kubectl $v get -w ($what): expected exactly 2 rows for x (initial, then after setting label touch=$lbl)" "$(cat "$o.w")"
        fi
    done

    # describe, with an Event created through the API (involvedObject uid)
    "$PY" "$HELPER" event "$ns" x SuiteProbe$v >"$o" 2>&1 || bad "creating a core/v1 Event for $ns/x" "$(cat "$o")"
    if run "$o" "$K" describe wp x -n "$ns" && grep -qE '^Name: +x$' "$o" && grep -qE '^Kind: +WorkerPool$' "$o" &&
        grep -qE "Normal +SuiteProbe$v +.*azpool-suite +from the suite" "$o"; then
        ok "kubectl $v describe wp x: Name, Kind and the Event (Normal SuiteProbe$v from azpool-suite)"
    else
        bad "kubectl $v describe wp x: expected Name/Kind lines and an Events row 'Normal SuiteProbe$v ... azpool-suite from the suite'" "$(cat "$o")"
    fi

    # scale
    local sr sg
    run "$o.s" "$K" scale wp/x -n "$ns" --replicas=5
    run "$o" "$K" get wp x -n "$ns" -o json
    sr=$(jp spec.replicas <"$o") sg=$(jp metadata.generation <"$o")
    if grep -qx 'workerpool.azpool.dev/x scaled' "$o.s" && [ "$sr" = 5 ] && [ "$sg" = 3 ]; then
        ok "kubectl $v scale wp/x --replicas=5: spec.replicas 5, generation 3"
    else
        bad "kubectl $v scale wp/x --replicas=5: expected 'scaled', spec.replicas 5, generation 3; got spec.replicas '$sr', generation '$sg'" "$(cat "$o.s")"
    fi

    # status via kubectl (>= 1.24 only)
    if [ "$v" != 120 ]; then
        run "$o.s" "$K" patch wp x -n "$ns" --subresource=status --type=merge -p '{"status":{"replicas":3}}'
        run "$o" "$K" get wp x -n "$ns" -o json
        sr=$(jp status.replicas <"$o") sg=$(jp metadata.generation <"$o")
        if grep -qx 'workerpool.azpool.dev/x patched' "$o.s" && [ "$sr" = 3 ] && [ "$sg" = 3 ]; then
            ok "kubectl $v patch --subresource=status --type=merge: status.replicas 3, generation unchanged"
        else
            bad "kubectl $v patch --subresource=status --type=merge: expected 'patched', status.replicas 3, generation 3; got status.replicas '$sr', generation '$sg'" "$(cat "$o.s")"
        fi
        if ! run "$o" "$K" patch wp x -n "$ns" -p '{"spec":{"replicas":4}}' && grep -q 'UnsupportedMediaType\|unknown format\|415' "$o"; then
            ok "kubectl $v patch (default strategic) on a CR: 415 UnsupportedMediaType"
        else
            bad "kubectl $v patch without --type on a CR: expected 415 UnsupportedMediaType" "$(cat "$o")"
        fi
    fi

    # wait --for=condition=Ready: started first, Ready set through /status while it waits
    timeout 30 "$K" wait wp/x -n "$ns" --for=condition=Ready --timeout=20s >"$o.wait" 2>&1 &
    local wt=$!
    sleep 1.5
    if kill -0 "$wt" 2>/dev/null; then
        "$PY" "$HELPER" ready "$ns" x >>"$o.wait" 2>&1
        wait "$wt"
        local rc=$?
        if [ $rc = 0 ] && grep -qx 'workerpool.azpool.dev/x condition met' "$o.wait"; then
            ok "kubectl $v wait --for=condition=Ready: still waiting before, 'condition met' after Ready=True via /status"
        else
            bad "kubectl $v wait --for=condition=Ready after Ready=True via /status (rc $rc)" "$(cat "$o.wait")"
        fi
    else
        wait "$wt"
        bad "kubectl $v wait --for=condition=Ready returned before Ready was set" "$(cat "$o.wait")"
    fi

    if run "$o" "$K" get wp x -n "$ns" && grep -qE '^x +ScaleSet +.* Converged +[0-9]+[smh]$' "$o"; then
        ok "kubectl $v get wp x after Ready: STATUS column = Ready's reason (Converged), via the jsonPath filter"
    else
        bad "kubectl $v get wp x after Ready: expected STATUS 'Converged' (.status.conditions[?(@.type==\"Ready\")].reason)" "$(cat "$o")"
    fi

    # invalid WorkerPool: 422 with the field path, nothing stored
    pool "$ns" bad -1 >"$tmp/bad-$v.yaml"
    if ! run "$o" "$K" apply -f "$tmp/bad-$v.yaml" && grep -q 'spec.replicas' "$o" && grep -qi 'invalid' "$o" &&
        ! run "$o.g" "$K" get wp bad -n "$ns"; then
        ok "kubectl $v apply of WorkerPool with spec.replicas -1: rejected naming spec.replicas, not stored"
    else
        bad "kubectl $v apply of invalid WorkerPool (spec.replicas -1): expected an error naming spec.replicas" "$(cat "$o")"
    fi
    # a CEL rule (x-kubernetes-validations on spec.image): 422 naming the field and the rule's message
    pool "$ns" cel 1 | sed 's/^  image: .*/  image: {publisher: Canonical, offer: ubuntu}/' >"$tmp/cel-$v.yaml"
    if ! run "$o" "$K" apply -f "$tmp/cel-$v.yaml" && grep -q 'spec.image' "$o" &&
        grep -q 'image needs either id or publisher, offer and sku' "$o" && ! run "$o.g" "$K" get wp cel -n "$ns"; then
        ok "kubectl $v apply violating the CEL rule on spec.image: rejected with spec.image and the rule's message"
    else
        bad "kubectl $v apply with image {publisher, offer} (no sku): expected 422 naming spec.image with 'image needs either id or publisher, offer and sku'" "$(cat "$o")"
    fi
    # unknown field: 1.32 sends fieldValidation=Strict (400 naming it); 1.20 sends none (server default Warn: pruned)
    pool "$ns" extra 1 '  colour: blue' >"$tmp/extra-$v.yaml"
    if [ "$v" = 120 ]; then
        if run "$o.a" "$K" apply -f "$tmp/extra-$v.yaml" && run "$o" "$K" get wp extra -n "$ns" -o json &&
            ! jp spec.colour <"$o" >/dev/null && [ "$(jp spec.replicas <"$o")" = 1 ]; then
            ok "kubectl $v apply with unknown field spec.colour (no fieldValidation): created, field pruned"
        else
            bad "kubectl $v apply with unknown field spec.colour: expected created with spec.colour pruned" "$(cat "$o.a" "$o")"
        fi
        # the server default is Warn (>= 1.25): header 'Warning: 299 - "unknown field \"spec.colour\""', printed by kubectl
        if grep -q 'Warning: unknown field "spec.colour"' "$o.a"; then
            ok "kubectl $v apply with unknown field (server default fieldValidation=Warn): prints the server's 'Warning: unknown field \"spec.colour\"'"
        else
            bad "kubectl $v apply with unknown field: expected the Warning header 'unknown field \"spec.colour\"' (POST without fieldValidation = Warn) to be printed" "$(cat "$o.a")"
        fi
    else
        if ! run "$o" "$K" apply -f "$tmp/extra-$v.yaml" && grep -q 'unknown field "spec.colour"' "$o"; then
            ok "kubectl $v apply with unknown field spec.colour (fieldValidation=Strict): rejected with 'unknown field \"spec.colour\"'"
        else
            bad "kubectl $v apply with unknown field spec.colour: expected a strict decoding error naming spec.colour" "$(cat "$o")"
        fi
    fi

    # delete
    if run "$o" "$K" delete wp x -n "$ns" && grep -qx 'workerpool.azpool.dev "x" deleted' "$o" &&
        ! run "$o.g" "$K" get wp x -n "$ns" && grep -q 'NotFound\|not found' "$o.g"; then
        ok "kubectl $v delete wp x: deleted, then get is NotFound"
    else
        bad "kubectl $v delete wp x" "$(cat "$o" "$o.g" 2>/dev/null)"
    fi
    # delete waits for a finalizer
    pool "$ns" fin 1 >"$tmp/fin-$v.yaml"
    sed -i 's/^metadata: {name: fin, namespace: \(k[0-9]*\)}$/metadata: {name: fin, namespace: \1, finalizers: [azpool.dev\/cleanup]}/' "$tmp/fin-$v.yaml"
    if run "$o" "$K" apply -f "$tmp/fin-$v.yaml"; then
        timeout 30 "$K" delete wp fin -n "$ns" >"$o.del" 2>&1 &
        local dp=$!
        sleep 1.5
        local still=no dts=
        kill -0 "$dp" 2>/dev/null && still=yes
        run "$o.g" "$K" get wp fin -n "$ns" -o json && dts=$(jp metadata.deletionTimestamp <"$o.g")
        "$PY" "$HELPER" unfinalize "$ns" fin >>"$o.del" 2>&1
        wait "$dp"
        local rc=$?
        if [ $still = yes ] && [ -n "$dts" ] && [ $rc = 0 ] && grep -qx 'workerpool.azpool.dev "fin" deleted' "$o.del" &&
            ! run "$o.g" "$K" get wp fin -n "$ns"; then
            ok "kubectl $v delete of a pool with finalizer azpool.dev/cleanup: waits (deletionTimestamp set), returns once the finalizer is removed"
        else
            bad "kubectl $v delete with a finalizer: expected to block with deletionTimestamp set, then return 0 (blocked: $still, deletionTimestamp: '${dts}', rc $rc)" "$(cat "$o.del")"
        fi
    else
        bad "kubectl $v apply of pool fin with a finalizer" "$(cat "$o")"
    fi
}

kubectl_checks 120 "$K120"
kubectl_checks 132 "$K132"

# ---- python3-kubernetes ----
echo "# python3-kubernetes $("$PY" -c 'import kubernetes; print(kubernetes.__version__)')"
"$PY" "$HELPER" suite >"$tmp/py.out" 2>&1
while IFS= read -r line; do
    case $line in
    "CHECK PASS "*) ok "${line#CHECK PASS }" ;;
    "CHECK FAIL "*) bad "${line#CHECK FAIL }" ;;
    esac
done <"$tmp/py.out"
if grep -q Traceback "$tmp/py.out"; then
    bad "python client checks stopped with an exception" "$(grep -A30 Traceback "$tmp/py.out" | tail -15)"
fi

# ---- --tls: a second kubesim serving HTTPS with its own CA in the kubeconfig ----
kill -0 "$kspid" 2>/dev/null && ok "kubesim still running after the plain-HTTP checks" || bad "kubesim died during the suite" "$(tail -20 "$tmp/ks.log")"
kill "$kspid" 2>/dev/null
wait "$kspid" 2>/dev/null
kspid=
tport=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/kst"
"$KS" --port "$tport" --dir "$tmp/kst" --tls >"$tmp/kst.log" 2>&1 &
kspid=$!
for _ in $(seq 100); do
    grep -q 'kubesim listening on' "$tmp/kst.log" 2>/dev/null && break
    kill -0 "$kspid" 2>/dev/null || break
    sleep 0.1
done
if grep -q "kubesim listening on https://127.0.0.1:$tport" "$tmp/kst.log" && grep -q 'certificate-authority-data' "$tmp/kst/kubeconfig" 2>/dev/null; then
    ok "kubesim --tls prints 'kubesim listening on https://127.0.0.1:$tport', kubeconfig has certificate-authority-data"
    export KUBECONFIG=$tmp/kst/kubeconfig
    for kv in "120 $K120" "132 $K132"; do
        set -- $kv
        if [ -x "$2" ] && run "$tmp/out" "$2" get namespaces && grep -qE '^default +Active ' "$tmp/out"; then
            ok "kubectl $1 over TLS (CA from the kubeconfig): get namespaces lists default Active (STATUS column)"
        else
            bad "kubectl $1 over TLS: get namespaces (expected a row 'default Active')" "$(cat "$tmp/out" 2>/dev/null)"
        fi
    done
    if "$PY" -c 'from kubernetes import client, config; config.load_kube_config(); print(sorted(n.metadata.name for n in client.CoreV1Api().list_namespace().items))' >"$tmp/out" 2>&1 &&
        grep -q "'default'" "$tmp/out"; then
        ok "python3-kubernetes over TLS: list_namespace includes default"
    else
        bad "python3-kubernetes over TLS: list_namespace" "$(tail -5 "$tmp/out")"
    fi
else
    bad "kubesim --tls did not start (no https listening line or no certificate-authority-data in kubeconfig)" "$(cat "$tmp/kst.log")"
fi

kill -0 "$kspid" 2>/dev/null && ok "kubesim still running at the end" || bad "kubesim died during the suite" "$(tail -20 "$tmp/ks.log")"
finish
