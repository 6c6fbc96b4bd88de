#!/usr/bin/env bash
# install-deps.sh - install exactly what Azpool's build, tests and test worlds need and
# is missing. Idempotent; prints nothing when everything is present.
#
# Sources: Debian packages (apt) and the npm registry only.
#   AZPOOL_DEPS=build   only what `make` needs (compilers, -dev packages, clang-format)
#   AZPOOL_DEPS=all     also the test worlds' clients (python3-azure, python3-kubernetes,
#                       Azurite) -- the default
set -euo pipefail

want=${AZPOOL_DEPS:-all}

build_pkgs=(gcc make pkg-config clang-format openssl
    libcurl4-openssl-dev libyaml-dev libjansson-dev libuv1-dev
    libwebsockets-dev libwebsockets-evlib-uv libcmocka-dev libssl-dev)
test_pkgs=(python3 python3-azure python3-kubernetes python3-requests ca-certificates python3-jsonschema python3-yaml)

missing=()
pkgs=("${build_pkgs[@]}")
[ "$want" = all ] && pkgs+=("${test_pkgs[@]}")
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$st" = installed ] || missing+=("$p")
done

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Update the index only when a package is not known to apt yet.
    if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
        $sudo apt-get update -qq >/dev/null
    fi
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm part (test worlds only): Azurite, the Azure Storage emulator (queues for autoscaling and
# Event Grid delivery). Node/npm come from the machine image or Debian (nodejs, npm).
if [ "$want" = all ]; then
    if ! command -v azurite-queue >/dev/null 2>&1; then
        if ! command -v npm >/dev/null 2>&1; then
            echo "install-deps: installing npm" >&2
            $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
        fi
        echo "install-deps: installing azurite (npm)" >&2
        $sudo npm install -g --no-fund --no-audit azurite >/dev/null 2>&1
    fi
    # Reference CEL evaluator for tests/conformance/suite-crd.sh (optional there).
    if command -v npm >/dev/null 2>&1 && [ ! -d "$(npm root -g 2>/dev/null)/@bufbuild/cel" ]; then
        echo "install-deps: installing @bufbuild/cel (npm)" >&2
        $sudo npm install -g --no-fund --no-audit @bufbuild/cel >/dev/null 2>&1
    fi
fi
# kubectl 1.20 (Debian's kubernetes-client) for the kubesim client conformance suite
# (tests/conformance/suite-kubesim-clients.sh). The machine image's google-cloud-cli kubectl
# (1.32, with kubectl.1.27 ... kubectl.1.33 beside it) owns /usr/bin/kubectl, which
# kubernetes-client conflicts with, so 1.20 is unpacked (apt-get download + dpkg -x) into
# build/tools/kubectl-1.20/ (binary: build/tools/kubectl-1.20/usr/bin/kubectl). Where no kubectl
# exists at all, kubernetes-client is installed normally (it is then 1.20 on /usr/bin/kubectl).
if [ "$want" = all ]; then
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    k120=$root/build/tools/kubectl-1.20
    if ! command -v kubectl >/dev/null 2>&1; then
        echo "install-deps: installing kubernetes-client (no kubectl on PATH)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-cache show kubernetes-client >/dev/null 2>&1 || $sudo apt-get update -qq >/dev/null
        $sudo apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
    fi
    if [ ! -x "$k120/usr/bin/kubectl" ]; then
        if [ "$(dpkg-query -W -f='${db:Status-Status}' kubernetes-client 2>/dev/null || true)" = installed ]; then
            mkdir -p "$k120/usr/bin" && ln -sf "$(command -v kubectl)" "$k120/usr/bin/kubectl"
        else
            echo "install-deps: unpacking kubernetes-client (kubectl 1.20) into $k120" >&2
            apt-cache show kubernetes-client >/dev/null 2>&1 || $sudo apt-get update -qq >/dev/null
            tmp=$(mktemp -d) && chmod 0777 "$tmp"   # apt-get download runs as _apt
            (cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null)
            mkdir -p "$k120"
            dpkg -x "$tmp"/kubernetes-client_*.deb "$k120"
            rm -rf "$tmp"
        fi
    fi
fi
exit 0
