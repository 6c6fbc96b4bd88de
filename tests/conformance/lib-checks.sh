# tests/conformance/lib-checks.sh - numbered checks for the shell suites (sourced).
#   ok NAME                 a passed check
#   bad NAME [DETAIL]       a failed one; DETAIL's first 15 lines are shown indented
#   check NAME RC [DETAIL]  ok when RC is 0, else bad
#   finish                  prints "N passed, N failed" and exits 1 on any failure
pass=0
fail=0
n=0
ok() {
    n=$((n + 1)) pass=$((pass + 1))
    echo "ok $n - $1"
}
bad() {
    n=$((n + 1)) fail=$((fail + 1))
    echo "FAIL $n - $1"
    [ $# -gt 1 ] && printf '%s\n' "$2" | head -n 15 | cut -c1-240 | sed 's/^/    | /'
}
check() {
    if [ "$2" -eq 0 ]; then ok "$1"; else bad "$1" "${3:-}"; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}
