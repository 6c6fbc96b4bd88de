#!/usr/bin/env bash
# tests/run.sh - runs every test suite and sums their results.
#
# A suite is a program that prints, as its last summary line, "N passed, N failed"
# and exits non-zero when anything failed. Suites:
#   $BUILD/tests/test_*        cmocka unit tests of the core and controller
#   $BUILD/tests/armsim_test_* cmocka unit tests of armsim
#   $BUILD/tests/run_*         data-driven case drivers (tests/cases/)
#   tests/*/suite-*.sh         integration suites (conformance, e2e); each runs
#                              its own servers and cleans up after itself. They
#                              run when listed in tests/suites.list (one path per
#                              line, relative to tests/); a suite not listed yet
#                              is reported as "skip" so it is never silently lost.
#                              A suite is listed once it passes on a fresh clone.
# A suite that exits non-zero without a summary line counts as 1 failed.
# The last line of this script's output is the total "N passed, N failed"; the
# exit status is 1 when any suite failed.
set -u
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.."

total_pass=0
total_fail=0
failed_suites=()

run_suite() {
    local name=$1
    shift
    local out rc line p f
    out=$(mktemp)
    "$@" >"$out" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*, }
        f=${f%% failed*}
    else
        p=0
        f=1
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -ne 0 ]; then
        failed_suites+=("$name")
        printf 'FAIL %-40s %s\n' "$name" "${line:-exit $rc, no summary}"
        sed 's/^/    | /' "$out" | tail -n 60
    else
        printf 'ok   %-40s %s\n' "$name" "$line"
    fi
    rm -f "$out"
}

for t in "$BUILD"/tests/test_* "$BUILD"/tests/armsim_test_* "$BUILD"/tests/run_*; do
    [ -x "$t" ] || continue
    case "$t" in *.d|*.o) continue ;; esac
    run_suite "$(basename "$t")" "$t"
done

for s in tests/*/suite-*.sh; do
    [ -f "$s" ] || continue
    if grep -qxF "${s#tests/}" tests/suites.list 2>/dev/null; then
        run_suite "${s#tests/}" bash "$s"
    else
        printf 'skip %-40s not in tests/suites.list yet\n' "${s#tests/}"
    fi
done
while read -r listed; do
    case "$listed" in ''|'#'*) continue ;; esac
    if [ ! -f "tests/$listed" ]; then
        printf 'FAIL %-40s listed in tests/suites.list but missing\n' "$listed"
        total_fail=$((total_fail + 1))
        failed_suites+=("$listed")
    fi
done < <(cat tests/suites.list 2>/dev/null)

if [ ${#failed_suites[@]} -gt 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
