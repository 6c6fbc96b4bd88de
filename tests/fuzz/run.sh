#!/usr/bin/env bash
# tests/fuzz/run.sh - `make fuzz`: short libFuzzer runs of the core's decoders
# under ASan+UBSan. FUZZ_SECONDS (default 30) per target. Seeds: the examples,
# the invalid cases, and the plan cases. Crashes are written to
# $BUILD/fuzz/crash-* and make the run fail.
set -eu
BUILD=${BUILD:-build}
secs=${FUZZ_SECONDS:-30}
cd "$(dirname "$0")/../.."
out="$BUILD/fuzz"
mkdir -p "$out/corpus-decode" "$out/corpus-observe"
core=$(ls reconcile/*.c)
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Ireconcile"
for t in decode observe; do
    clang $flags -o "$out/fuzz_$t" "tests/fuzz/fuzz_$t.c" $core -ljansson -lyaml -lm
done
cp manifests/examples/*.yaml tests/cases/invalid/*.yaml "$out/corpus-decode/" 2>/dev/null || true
cp tests/fuzz/seeds/*.json "$out/corpus-observe/" 2>/dev/null || true
fail=0
for t in decode observe; do
    echo "fuzz: $t for ${secs}s"
    if ! "$out/fuzz_$t" -max_total_time="$secs" -max_len=65536 -artifact_prefix="$out/crash-$t-" \
        "$out/corpus-$t" >"$out/$t.log" 2>&1; then
        echo "fuzz: $t FAILED, see $out/$t.log"
        tail -n 30 "$out/$t.log"
        fail=1
    else
        grep -E '^#[0-9]+.*DONE' "$out/$t.log" | tail -n 1
    fi
done
exit $fail
