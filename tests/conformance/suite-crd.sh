#!/usr/bin/env bash
# suite-crd.sh - the CRD schemas (crds/*.yaml) and the core validator agree.
#
# Checks (tests/conformance/crd_agree.py, with crdcheck.py as the schema validator):
#   - the CRDs are structural (every node typed, no forbidden keywords, list-map keys
#     required, defaults valid, printer columns and scale paths point at declared fields)
#     and their CEL rules stay inside the subset crdcheck.py evaluates;
#   - every manifest in manifests/examples/ is accepted by the CRD schema and by
#     `$BUILD/azpool validate FILE`;
#   - every case in tests/cases/invalid/ is rejected by both, the CRD schema at the fields the
#     case's `# expect:` lines name; cases a schema cannot express (YAML-level, cross-document,
#     input limits) are listed in crd_agree.py with the reason, and the reason is verified;
#   - 160 mutations of the examples (valid and invalid variants) get the same verdict from
#     both sides; the known divergences are listed with the reason and checked to persist;
#   - every CEL rule rejects at least one case;
#   - every rule evaluation above gives the same answer in @bufbuild/cel (a conformant CEL
#     implementation, run by node through cel_ref.mjs), when node and the module are there.
# While `azpool validate` is not built or not implemented, the core side is skipped with a
# message and only the CRD side is checked. AZPOOL_VALIDATE="CMD" replaces the validator
# command (called as `CMD FILE`, exit 0 valid / 1 invalid).
#
# Needs Debian's /usr/bin/python3 with python3-jsonschema and python3-yaml
# (hack/install-deps.sh installs them). Prints "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

if ! [ -x "$PY" ] || ! "$PY" -c 'import jsonschema, yaml' 2>/dev/null; then
    echo "FAIL $PY with python3-jsonschema and python3-yaml is needed (run hack/install-deps.sh)"
    echo "0 passed, 1 failed"
    exit 1
fi

validator=${AZPOOL_VALIDATE-"$BUILD/azpool validate"}
# The reference CEL cross-check runs when node and @bufbuild/cel are there (else: a skip line).
if [ -z "${CEL_MODULES:-}" ] && command -v npm >/dev/null 2>&1; then
    CEL_MODULES=$(npm root -g 2>/dev/null)
fi
export CEL_MODULES=${CEL_MODULES:-}
exec "$PY" tests/conformance/crd_agree.py --crds crds --examples manifests/examples \
    --invalid tests/cases/invalid --validator "$validator"
