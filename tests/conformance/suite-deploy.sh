#!/usr/bin/env bash
# suite-deploy.sh - the deploy manifests (manifests/*.yaml + crds/) installed with kubectl -k.
#
# For each of kubectl 1.32 (kustomize v5; google-cloud-cli's kubectl.1.32, KUBECTL_132
# overrides) and kubectl 1.20 (kustomize v2.0.3; build/tools/kubectl-1.20, KUBECTL_120
# overrides), against its own fresh kubesim ($BUILD/kubesim, KUBESIM overrides; always killed
# on exit):
#   kubectl kustomize manifests/ (exit 0; every document parses, has apiVersion/kind/name; the
#   expected 13 objects, no others); apply --dry-run=client -k (13 "(dry run)" lines, nothing
#   created on the server); apply -k (13 created); every object readable with kubectl get; the
#   CRDs Established; the exact rules of ClusterRole azpool-controller and Role
#   azpool-leader-election (verb sets compared, nothing more, nothing less); the bindings point at
#   ServiceAccount azpool-system/azpool; the Deployment as the server stored it (2 replicas, run
#   --source kube --listen 0.0.0.0:9440, probes /healthz and /readyz on 9440, the "restricted"
#   Pod Security fields, requests/limits, POD_NAME/POD_NAMESPACE from the downward API); apply
#   -k again: all 13 unchanged and the server's resourceVersion did not move; the
#   PodDisruptionBudget selects the Deployment's pods.
# Then: kubectl 1.32 apply -k crds/ and -f crds/ (only the CRDs); RBAC enforced by
# kubesim --rbac --tls: `kubectl auth can-i` as the controller's ServiceAccount (1.32 with a
# token from `kubectl create token`, 1.20 with --as) for every request the controller makes
# (yes) and a list of neighbouring ones (no), a real allowed and a real Forbidden request, and
# the aggregation of azpool-edit / azpool-view into edit / view; and the lease name in rbac.yaml
# is controller/leader.h's LEADER_DEFAULT_NAME.
#
# Every check is numbered; prints "N passed, N failed" last, exits 1 on any failure. A missing
# kubesim or kubectl is a failure (not a skip). KS_KEEP=1 keeps the temp dir.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
PY=/usr/bin/python3
KS=${KUBESIM:-$BUILD/kubesim}
K120=${KUBECTL_120:-$ROOT/build/tools/kubectl-1.20/usr/bin/kubectl}
K132=${KUBECTL_132:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
export PYTHONDONTWRITEBYTECODE=1

. tests/conformance/lib-checks.sh

if ! [ -x "$KS" ]; then
    bad "kubesim binary $KS is missing (build it: make BUILD=$BUILD)"
    finish
fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import yaml' 2>/dev/null; then
    bad "$PY with python3-yaml is needed (run hack/install-deps.sh)"
    finish
fi

tmp=$(mktemp -d /tmp/ks-deploy.XXXXXX)
kspid=
stop_ks() {
    if [ -n "$kspid" ]; then
        kill "$kspid" 2>/dev/null && wait "$kspid" 2>/dev/null
    fi
    kspid=
}
cleanup() {
    stop_ks
    if [ "${KS_KEEP:-0}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_ks TAG: a fresh kubesim in $tmp/TAG; sets KUBECONFIG, HOME and $ksurl. 1 on failure.
start_ks() { # TAG [kubesim ARGS...]
    local d=$tmp/$1 port scheme=http
    shift
    case " $* " in *" --tls "*) scheme=https ;; esac
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$d/ks" "$d/home"
    "$KS" --port "$port" --dir "$d/ks" "$@" >"$d/ks.log" 2>&1 &
    kspid=$!
    for _ in $(seq 100); do
        grep -q 'kubesim listening on' "$d/ks.log" 2>/dev/null && break
        kill -0 "$kspid" 2>/dev/null || break
        sleep 0.1
    done
    if ! grep -q "kubesim listening on $scheme://127.0.0.1:$port" "$d/ks.log" || ! [ -s "$d/ks/kubeconfig" ]; then
        bad "kubesim did not start on port $port" "$(cat "$d/ks.log")"
        return 1
    fi
    export HOME=$d/home KUBECONFIG=$d/ks/kubeconfig
    ksurl=$scheme://127.0.0.1:$port
}

# run OUTFILE CMD... : 60 s cap, stdout to OUTFILE, stderr to OUTFILE.err; returns the exit code
run() {
    local out=$1
    shift
    timeout 60 "$@" >"$out" 2>"$out.err"
}
server_rv() {
    curl -fsS "$ksurl/_kubesim/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["resourceVersion"])'
}

# The objects manifests/ must produce: kind namespace name (namespace "-" = cluster-scoped).
cat >"$tmp/expected" <<'EOF'
Namespace - azpool-system
CustomResourceDefinition - workerpools.azpool.dev
CustomResourceDefinition - imageversions.azpool.dev
CustomResourceDefinition - expirypolicies.azpool.dev
ServiceAccount azpool-system azpool
ClusterRole - azpool-controller
ClusterRoleBinding - azpool-controller
Role azpool-system azpool-leader-election
RoleBinding azpool-system azpool-leader-election
ClusterRole - azpool-edit
ClusterRole - azpool-view
Deployment azpool-system azpool-controller
PodDisruptionBudget azpool-system azpool-controller
EOF
nobj=$(wc -l <"$tmp/expected")
# resource argument for kubectl get, per kind
res_of() {
    case $1 in
    Namespace) echo namespace ;;
    CustomResourceDefinition) echo customresourcedefinitions.apiextensions.k8s.io ;;
    ServiceAccount) echo serviceaccount ;;
    ClusterRole) echo clusterroles.rbac.authorization.k8s.io ;;
    ClusterRoleBinding) echo clusterrolebindings.rbac.authorization.k8s.io ;;
    Role) echo roles.rbac.authorization.k8s.io ;;
    RoleBinding) echo rolebindings.rbac.authorization.k8s.io ;;
    Deployment) echo deployments.apps ;;
    PodDisruptionBudget) echo poddisruptionbudgets.policy ;;
    esac
}

# The checks on documents, in Python: check.py MODE FILE
cat >"$tmp/check.py" <<'EOF'
import json, sys, yaml

mode, path = sys.argv[1], sys.argv[2]
text = open(path).read()

def fail(msg):
    print(msg)
    sys.exit(1)

def verbset(rules):
    """rules -> sorted list of (apiGroups, resources, resourceNames, verbs) with sorted members"""
    out = []
    for r in rules:
        out.append((tuple(sorted(r.get("apiGroups", []))), tuple(sorted(r.get("resources", []))),
                    tuple(sorted(r.get("resourceNames", []))), tuple(sorted(r.get("verbs", [])))))
    return sorted(out)

def expand(rules):
    """(group, resource, resourceName or '*') -> set of verbs"""
    m = {}
    for r in rules:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for rn in r.get("resourceNames", ["*"]):
                    m.setdefault((g, res, rn), set()).update(r.get("verbs", []))
    return m

if mode == "docs":  # kubectl kustomize output: kind ns name per document
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") \
                or not d.get("metadata", {}).get("name"):
            fail("document without apiVersion/kind/metadata.name: %r" % (d,)[:200])
        print(d["kind"], d["metadata"].get("namespace", "-"), d["metadata"]["name"])
elif mode == "clusterrole":
    want = {
        ("azpool.dev", "workerpools", "*"): {"get", "list", "watch", "patch", "update"},
        ("azpool.dev", "imageversions", "*"): {"get", "list", "watch", "patch", "update"},
        ("azpool.dev", "expirypolicies", "*"): {"get", "list", "watch", "patch", "update"},
        ("azpool.dev", "workerpools/status", "*"): {"get", "patch", "update"},
        ("azpool.dev", "imageversions/status", "*"): {"get", "patch", "update"},
        ("azpool.dev", "expirypolicies/status", "*"): {"get", "patch", "update"},
        ("azpool.dev", "workerpools/scale", "*"): {"get"},
        ("", "secrets", "*"): {"get", "list", "watch"},
        ("", "events", "*"): {"create", "patch"},
    }
    obj = json.loads(text)
    got = expand(obj.get("rules", []))
    if got != want:
        fail("ClusterRole rules differ: extra %s missing %s" % (
            sorted((k, sorted(v)) for k, v in got.items() if want.get(k) != v),
            sorted((k, sorted(v)) for k, v in want.items() if got.get(k) != v)))
    if any("*" in r.get("verbs", []) or "*" in r.get("resources", []) or "*" in r.get("apiGroups", [])
           for r in obj["rules"]):
        fail("wildcard in ClusterRole rules")
    print("ok")
elif mode == "role":
    obj = json.loads(text)
    want = {("coordination.k8s.io", "leases", "*"): {"create"},
            ("coordination.k8s.io", "leases", "azpool-controller"): {"get", "update"}}
    got = expand(obj.get("rules", []))
    if got != want:
        fail("Role rules: got %s" % sorted((k, sorted(v)) for k, v in got.items()))
    print("ok")
elif mode in ("crb", "rb"):
    obj = json.loads(text)
    kind = "ClusterRole" if mode == "crb" else "Role"
    name = "azpool-controller" if mode == "crb" else "azpool-leader-election"
    rr = obj.get("roleRef", {})
    if rr != {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}:
        fail("roleRef %r" % rr)
    if obj.get("subjects") != [{"kind": "ServiceAccount", "name": "azpool", "namespace": "azpool-system"}]:
        fail("subjects %r" % obj.get("subjects"))
    print("ok")
elif mode == "deployment":
    d = json.loads(text)
    spec = d["spec"]
    pod = spec["template"]["spec"]
    errs = []
    def want(cond, msg):
        if not cond:
            errs.append(msg)
    want(spec.get("replicas") == 2, "replicas %r" % spec.get("replicas"))
    sel = spec.get("selector", {}).get("matchLabels", {})
    labels = spec["template"]["metadata"].get("labels", {})
    want(sel and all(labels.get(k) == v for k, v in sel.items()), "selector does not match the pod labels")
    want(pod.get("serviceAccountName") == "azpool", "serviceAccountName %r" % pod.get("serviceAccountName"))
    psc = pod.get("securityContext", {})
    want(psc.get("runAsNonRoot") is True, "pod runAsNonRoot")
    want(psc.get("seccompProfile") == {"type": "RuntimeDefault"}, "pod seccompProfile")
    want(not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC"), "host namespaces")
    want(all("hostPath" not in v for v in pod.get("volumes", [])), "hostPath volume")
    cs = pod.get("containers", [])
    want(len(cs) == 1, "%d containers" % len(cs))
    c = cs[0]
    argv = c.get("command", []) + c.get("args", [])
    joined = " " + " ".join(argv) + " "
    want(argv[1:4] == ["run", "--source", "kube"], "argv does not start with run --source kube: %r" % argv)
    want(" --listen 0.0.0.0:9440 " in joined, "--listen 0.0.0.0:9440 missing: %r" % argv)
    ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
    def probe(p, path):
        h = c.get(p, {}).get("httpGet", {})
        port = h.get("port")
        port = ports.get(port, port)
        return h.get("path") == path and port == 9440
    want(probe("livenessProbe", "/healthz"), "livenessProbe /healthz:9440 %r" % c.get("livenessProbe"))
    want(probe("readinessProbe", "/readyz"), "readinessProbe /readyz:9440 %r" % c.get("readinessProbe"))
    sc = c.get("securityContext", {})
    want(sc.get("runAsNonRoot") is True or psc.get("runAsNonRoot") is True, "runAsNonRoot")
    want(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    want(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation")
    want(sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc.get("capabilities", {}).get("add"),
         "capabilities %r" % sc.get("capabilities"))
    want(sc.get("seccompProfile", psc.get("seccompProfile")) == {"type": "RuntimeDefault"}, "seccomp")
    want(not sc.get("privileged"), "privileged")
    res = c.get("resources", {})
    want(res.get("requests") == {"cpu": "10m", "memory": "32Mi"}, "requests %r" % res.get("requests"))
    want(res.get("limits") == {"memory": "128Mi"}, "limits %r" % res.get("limits"))
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c.get("env", [])}
    want(env.get("POD_NAME") == "metadata.name", "POD_NAME from metadata.name")
    want(env.get("POD_NAMESPACE") == "metadata.namespace", "POD_NAMESPACE from metadata.namespace")
    want(c.get("image") == "azpool:latest", "image %r" % c.get("image"))
    if errs:
        fail("; ".join(errs))
    print("ok")
elif mode == "pdb":  # check.py pdb PDB.json DEPLOYMENT.json
    pdb, d = json.loads(text), json.loads(open(sys.argv[3]).read())
    sel = pdb["spec"].get("selector", {}).get("matchLabels", {})
    labels = d["spec"]["template"]["metadata"].get("labels", {})
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        fail("PDB selector %r does not select the pods %r" % (sel, labels))
    if pdb["spec"].get("maxUnavailable") != 1 or "minAvailable" in pdb["spec"]:
        fail("PDB spec %r" % pdb["spec"])
    print("ok")
EOF
chk() { "$PY" "$tmp/check.py" "$@"; }

deploy_checks() { # TAG KUBECTL
    local v=$1 K=$2 o=$tmp/out rv1 rv2 missing
    if ! [ -x "$K" ]; then
        bad "kubectl $v: $K missing (hack/install-deps.sh unpacks 1.20; 1.32 is google-cloud-cli's kubectl.1.32)"
        return
    fi
    start_ks "k$v" || return
    echo "# kubectl $v against $ksurl"

    if run "$o" "$K" kustomize manifests/ && chk docs "$o" >"$tmp/docs" &&
        [ "$(sort "$tmp/docs")" = "$(sort "$tmp/expected")" ]; then
        ok "kubectl $v kustomize manifests/: $nobj documents parse, exactly the expected objects"
    else
        bad "kubectl $v kustomize manifests/" "$(cat "$o.err"; diff <(sort "$tmp/expected") <(sort "$tmp/docs" 2>/dev/null))"
    fi

    if run "$o" "$K" apply --dry-run=client -k manifests/ &&
        [ "$(grep -cE '^[a-z0-9.]+/[a-z0-9.-]+ (created|configured) \(dry run\)$' "$o")" = "$nobj" ] &&
        ! run "$tmp/o2" "$K" get namespace azpool-system && grep -q NotFound "$tmp/o2.err"; then
        ok "kubectl $v apply --dry-run=client -k manifests/: $nobj objects, nothing created"
    else
        bad "kubectl $v apply --dry-run=client -k manifests/" "$(cat "$o" "$o.err")"
    fi

    if run "$o" "$K" apply -k manifests/ && [ "$(grep -cE '^[a-z0-9.]+/[a-z0-9.-]+ created$' "$o")" = "$nobj" ]; then
        ok "kubectl $v apply -k manifests/: $nobj created"
    else
        bad "kubectl $v apply -k manifests/ (expected $nobj created)" "$(cat "$o" "$o.err")"
    fi

    missing=
    while read -r kind ns name; do
        if [ "$ns" = - ]; then
            run "$o" "$K" get "$(res_of "$kind")" "$name" -o name || missing="$missing $kind/$name"
        else
            run "$o" "$K" get -n "$ns" "$(res_of "$kind")" "$name" -o name || missing="$missing $kind/$ns/$name"
        fi
    done <"$tmp/expected"
    if [ -z "$missing" ]; then
        ok "kubectl $v get: all $nobj objects exist"
    else
        bad "kubectl $v get: missing$missing"
    fi

    if run "$o" "$K" wait --for=condition=Established --timeout=20s \
        crd/workerpools.azpool.dev crd/imageversions.azpool.dev crd/expirypolicies.azpool.dev; then
        ok "kubectl $v wait --for=condition=Established: the 3 CRDs"
    else
        bad "kubectl $v wait --for=condition=Established" "$(cat "$o" "$o.err")"
    fi

    if run "$o" "$K" get clusterrole azpool-controller -o json && chk clusterrole "$o" >"$tmp/c" 2>&1; then
        ok "kubectl $v: ClusterRole azpool-controller has exactly the controller's verbs"
    else
        bad "kubectl $v: ClusterRole azpool-controller rules" "$(cat "$tmp/c" "$o.err")"
    fi
    if run "$o" "$K" get -n azpool-system role azpool-leader-election -o json && chk role "$o" >"$tmp/c" 2>&1; then
        ok "kubectl $v: Role azpool-system/azpool-leader-election: leases create, get/update on azpool-controller only"
    else
        bad "kubectl $v: Role azpool-leader-election rules" "$(cat "$tmp/c" "$o.err")"
    fi
    if run "$o" "$K" get clusterrolebinding azpool-controller -o json && chk crb "$o" >"$tmp/c" 2>&1 &&
        run "$o" "$K" get -n azpool-system rolebinding azpool-leader-election -o json && chk rb "$o" >"$tmp/c" 2>&1; then
        ok "kubectl $v: ClusterRoleBinding and RoleBinding bind ServiceAccount azpool-system/azpool"
    else
        bad "kubectl $v: bindings" "$(cat "$tmp/c" "$o.err")"
    fi
    if run "$o" "$K" get -n azpool-system deployment azpool-controller -o json && chk deployment "$o" >"$tmp/c" 2>&1; then
        ok "kubectl $v: Deployment as stored: 2 replicas, run --source kube --listen 0.0.0.0:9440, probes, restricted securityContext, resources, downward API env"
    else
        bad "kubectl $v: Deployment azpool-system/azpool-controller" "$(cat "$tmp/c" "$o.err")"
    fi

    if run "$o" "$K" get -n azpool-system poddisruptionbudget azpool-controller -o json &&
        run "$tmp/dep.json" "$K" get -n azpool-system deployment azpool-controller -o json &&
        chk pdb "$o" "$tmp/dep.json" >"$tmp/c" 2>&1; then
        ok "kubectl $v: PodDisruptionBudget maxUnavailable 1 selects the Deployment's pods"
    else
        bad "kubectl $v: PodDisruptionBudget" "$(cat "$tmp/c" "$o.err")"
    fi

    # kubectl >= 1.21 knows policy/v1 and sends a strategic merge patch, which always carries
    # a field with patchStrategy "replace" (the PDB's selector): it prints "configured" for an
    # unchanged PDB. What counts is that nothing changed on the server (the RV stays).
    rv1=$(server_rv)
    if run "$o" "$K" apply -k manifests/ &&
        [ "$(grep -cE '^[a-z0-9.]+/[a-z0-9.-]+ unchanged$' "$o")" -ge $((nobj - 1)) ] &&
        [ "$(grep -cE '^([a-z0-9.]+/[a-z0-9.-]+ unchanged|poddisruptionbudget.policy/azpool-controller configured)$' "$o")" = "$nobj" ] &&
        rv2=$(server_rv) && [ -n "$rv1" ] && [ "$rv1" = "$rv2" ]; then
        ok "kubectl $v apply -k manifests/ again: all $nobj unchanged (the PDB may say configured), resourceVersion stays $rv1"
    else
        bad "kubectl $v apply -k manifests/ again (expected all unchanged, RV $rv1 -> ${rv2:-?})" "$(cat "$o" "$o.err")"
    fi
    stop_ks
}

deploy_checks 1.32 "$K132"
deploy_checks 1.20 "$K120"

# crds/ alone: `kubectl apply -k crds/` (its Kustomization) and `kubectl apply -f crds/` (the
# Kustomization file has no .yaml extension, so -f sees only the three CRDs).
if [ -x "$K132" ] && start_ks crds; then
    if run "$tmp/out" "$K132" apply -k crds/ &&
        [ "$(grep -cE '^customresourcedefinition.apiextensions.k8s.io/[a-z]+.azpool.dev created$' "$tmp/out")" = 3 ] &&
        run "$tmp/out" "$K132" apply -f crds/ &&
        [ "$(grep -cE '^customresourcedefinition.apiextensions.k8s.io/[a-z]+.azpool.dev unchanged$' "$tmp/out")" = 3 ] &&
        [ "$(wc -l <"$tmp/out")" = 3 ]; then
        ok "kubectl 1.32 apply -k crds/ (3 created), then apply -f crds/ (the same 3 unchanged, nothing else)"
    else
        bad "kubectl 1.32 apply -k crds/ / -f crds/" "$(cat "$tmp/out" "$tmp/out.err")"
    fi
    stop_ks
fi

# ---- RBAC as an API server enforces it: kubesim --rbac --tls ----
# The controller's ServiceAccount (a token from `kubectl create token`, kubectl 1.32; `--as`
# impersonation, kubectl 1.20) may do exactly what the controller does, and nothing of a list of
# neighbouring requests; azpool-edit / azpool-view aggregate into edit / view.
cat >"$tmp/can-i" <<'EOF2'
yes get workerpools.azpool.dev -n ci
yes list workerpools.azpool.dev -A
yes watch workerpools.azpool.dev -A
yes patch workerpools.azpool.dev -n ci
yes update workerpools.azpool.dev -n ci
yes list imageversions.azpool.dev -A
yes watch expirypolicies.azpool.dev -A
yes update expirypolicies.azpool.dev -n ci
yes get workerpools.azpool.dev --subresource=status -n ci
yes patch workerpools.azpool.dev --subresource=status -n ci
yes update imageversions.azpool.dev --subresource=status -n ci
yes patch expirypolicies.azpool.dev --subresource=status -n ci
yes get workerpools.azpool.dev --subresource=scale -n ci
yes list secrets -A
yes watch secrets -n ci
yes get secrets -n ci
yes create events -n ci
yes patch events -n ci
yes create leases.coordination.k8s.io -n azpool-system
yes get leases.coordination.k8s.io/azpool-controller -n azpool-system
yes update leases.coordination.k8s.io/azpool-controller -n azpool-system
no create workerpools.azpool.dev -n ci
no delete workerpools.azpool.dev -n ci
no deletecollection imageversions.azpool.dev -n ci
no update workerpools.azpool.dev --subresource=scale -n ci
no patch workerpools.azpool.dev --subresource=scale -n ci
no create secrets -n ci
no update secrets -n ci
no delete secrets -n ci
no get configmaps -n ci
no list events -n ci
no delete events -n ci
no get leases.coordination.k8s.io/other -n azpool-system
no update leases.coordination.k8s.io/other -n azpool-system
no list leases.coordination.k8s.io -n azpool-system
no delete leases.coordination.k8s.io/azpool-controller -n azpool-system
no create leases.coordination.k8s.io -n ci
no get pods -n azpool-system
no update deployments.apps -n azpool-system
no list namespaces
no create clusterroles.rbac.authorization.k8s.io
no create customresourcedefinitions.apiextensions.k8s.io
EOF2
ncan=$(wc -l <"$tmp/can-i")
# can_i_table TAG KUBECTL ARGS... : every line of $tmp/can-i with the extra kubectl ARGS
can_i_table() {
    local v=$1 K=$2 want verb rest got wrong=
    shift 2
    while read -r want verb rest; do
        # shellcheck disable=SC2086
        got=$(timeout 30 "$K" "$@" auth can-i "$verb" $rest 2>/dev/null)
        [ "$got" = "$want" ] || wrong="$wrong; $verb $rest: $got (want $want)"
    done <"$tmp/can-i"
    if [ -z "$wrong" ]; then
        ok "kubectl $v auth can-i as the controller's ServiceAccount ($*): $ncan answers as expected"
    else
        bad "kubectl $v auth can-i as the controller's ServiceAccount ($*)" "${wrong#; }"
    fi
}
if [ -x "$K132" ] && start_ks rbac --rbac --tls; then
    sa=system:serviceaccount:azpool-system:azpool
    if run "$tmp/out" "$K132" apply -k manifests/ && run "$tmp/out" "$K132" create namespace ci &&
        run "$tmp/tok" "$K132" create token azpool -n azpool-system && [ -s "$tmp/tok" ]; then
        ok "kubesim --rbac --tls: kubectl 1.32 apply -k manifests/ as administrator, create token azpool"
        tok=$(cat "$tmp/tok")
        can_i_table 1.32 "$K132" --token "$tok"
        if [ -x "$K120" ]; then
            can_i_table 1.20 "$K120" --as "$sa"
        fi
        if run "$tmp/out" "$K132" --token "$tok" get workerpools -A &&
            ! run "$tmp/o2" "$K132" --token "$tok" get configmaps -n ci &&
            grep -q "Forbidden.*User \"$sa\" cannot list resource \"configmaps\"" "$tmp/o2.err"; then
            ok "kubectl 1.32 --token: get workerpools -A allowed; get configmaps -n ci Forbidden"
        else
            bad "kubectl 1.32 --token: real requests" "$(cat "$tmp/out.err" "$tmp/o2" "$tmp/o2.err")"
        fi
        cat >"$tmp/agg.yaml" <<'EOF2'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: edit}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.authorization.k8s.io/aggregate-to-edit: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.authorization.k8s.io/aggregate-to-view: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: jane-edit, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vic-view, namespace: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: vic}]
EOF2
        a=$(timeout 30 "$K132" apply -f "$tmp/agg.yaml" >/dev/null 2>&1 && for q in \
            "jane create workerpools.azpool.dev" "jane patch workerpools.azpool.dev --subresource=scale" \
            "jane patch workerpools.azpool.dev --subresource=status" "jane delete expirypolicies.azpool.dev" \
            "vic list workerpools.azpool.dev" "vic get workerpools.azpool.dev --subresource=status" \
            "vic create workerpools.azpool.dev" "vic list workerpools.azpool.dev -n default"; do
            # shellcheck disable=SC2086
            set -- $q
            u=$1
            shift
            printf '%s ' "$(timeout 30 "$K132" auth can-i -n ci --as "$u" "$@" 2>/dev/null | tail -1)"
        done)
        if [ "$a" = "yes yes no yes yes yes no no " ]; then
            ok "azpool-edit / azpool-view aggregate into edit / view: editors manage pools and scale them, not their status; viewers read"
        else
            bad "azpool-edit / azpool-view aggregation (got '$a', want 'yes yes no yes yes yes no no ')"
        fi
    else
        bad "kubesim --rbac --tls: apply -k / create token" "$(cat "$tmp/out" "$tmp/out.err" "$tmp/tok.err" 2>/dev/null)"
    fi
    stop_ks
fi

# The Role names the Lease the controller elects on (controller/leader.h LEADER_DEFAULT_NAME).
lease=$(sed -n 's/^#define LEADER_DEFAULT_NAME *"\([^"]*\)".*/\1/p' controller/leader.h 2>/dev/null)
if [ -n "$lease" ] && grep -qE "resourceNames: \[$lease\]" manifests/rbac.yaml; then
    ok "rbac.yaml's Role limits get/update to the Lease controller/leader.h elects on ($lease)"
else
    bad "lease name: controller/leader.h LEADER_DEFAULT_NAME='$lease' is not rbac.yaml's resourceNames"
fi

finish
