#!/usr/bin/env bash
# hack/run-demo.sh - what `make run` does after building.
#
# Current stage (see README "Status"): the controller's run loop against armsim
# is not built yet, so the demo validates manifests/examples/ and shows the plan
# Azpool would carry out against an empty Azure world, in text and as the JSON
# scripts consume. When `azpool run` lands, this script starts armsim and the
# controller and shows the pools converging until Ctrl-C.
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.."
az="$BUILD/azpool"
examples=manifests/examples

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

bold "== azpool $("$az" version | cut -d' ' -f2): validating $examples"
"$az" validate "$examples"
echo
bold "== plan against an empty Azure world (azpool plan -f $examples)"
set +e
"$az" plan -f "$examples"
rc=$?
set -e
echo
case $rc in
0) bold "== exit 0: nothing to do" ;;
2) bold "== exit 2: the plan above has changes; 'azpool plan -f $examples -o json' gives them as JSON" ;;
*) bold "== plan failed (exit $rc)"; exit "$rc" ;;
esac
