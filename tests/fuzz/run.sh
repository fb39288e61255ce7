#!/usr/bin/env bash
# run.sh [SECONDS] — fuzz the binlog decoders for a bounded time.
#
# Configures build-fuzz/ with clang (libFuzzer, ASan + UBSan, coverage on
# protocol/ too), builds tests/fuzz/fuzz_*.c, makes seed corpora from real
# binlog files (tests/fuzz/make_seeds.py: ../shared/fixtures and the local
# MariaDB's binlogs when TAPFLOW_MARIADB_DATADIR is set) and runs every
# fuzzer for an equal share of SECONDS (default 60). The corpus each fuzzer
# grows is kept in build-fuzz/corpus/NAME and reused by the next run.
#
# Prints one line per fuzzer and "N passed, N failed"; a fuzzer that finds a
# crash, leak, timeout or sanitizer report fails, and the input that
# triggers it is named (build-fuzz/artifacts/NAME-crash-...); reproduce with
#   build-fuzz/tests/NAME build-fuzz/artifacts/NAME-crash-...
set -uo pipefail

seconds=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build="$top/build-fuzz"
export PATH="$top/.local/bin:$PATH"

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang not found (tools/setup.sh installs it)"
    echo "0 passed, 1 failed"
    exit 1
fi

if ! CC=clang cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTAPFLOW_FUZZ=ON -DTAPFLOW_SANITIZE=ON -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link \
    >"$build.configure.log" 2>&1; then
    cat "$build.configure.log"
    echo "0 passed, 1 failed"
    exit 1
fi
rm -f "$build.configure.log"

fuzzers=()
for src in "$top"/tests/fuzz/fuzz_*.c; do
    fuzzers+=("$(basename "$src" .c)")
done
if ! ninja -C "$build" "${fuzzers[@]}" >"$build/fuzz-build.log" 2>&1; then
    tail -50 "$build/fuzz-build.log"
    echo "fuzz: build failed"
    echo "0 passed, ${#fuzzers[@]} failed"
    exit 1
fi

seeds="$build/seeds"
rm -rf "$seeds"
python3 "$top/tests/fuzz/make_seeds.py" "$seeds"

share=$((seconds / ${#fuzzers[@]}))
[ "$share" -lt 5 ] && share=5
mkdir -p "$build/artifacts"
passed=0
failed=0
for name in "${fuzzers[@]}"; do
    corpus="$build/corpus/$name"
    mkdir -p "$corpus"
    case "$name" in
    fuzz_event) seed_dir="$seeds/event" ;;
    fuzz_value) seed_dir="$seeds/value" ;;
    fuzz_expr) seed_dir="$seeds/expr" ;;
    *) seed_dir="$seeds" ;;
    esac
    log="$build/$name.log"
    before=$(ls "$build/artifacts" | wc -l)
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$build/tests/$name" "$corpus" "$seed_dir" -max_total_time="$share" -max_len=65536 \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$name-" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $name ok: ${share}s, ${execs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) inputs"
    else
        failed=$((failed + 1))
        echo "fuzz: $name FAILED (exit $rc) after ${execs:-?} runs; log $log"
        grep -E "ERROR: |SUMMARY: |runtime error|Test unit written to" "$log" | head -20
        after=$(ls "$build/artifacts" | wc -l)
        if [ "$after" -gt "$before" ]; then
            ls -t "$build/artifacts" | head -n $((after - before)) | sed "s|^|fuzz: crash input: $build/artifacts/|"
        fi
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
