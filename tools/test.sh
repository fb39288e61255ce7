#!/usr/bin/env bash
# test.sh — install what is needed and run the whole test suite.
#
#   bash tools/test.sh
#
# Steps: tools/setup.sh; build build/ (RelWithDebInfo) and build-asan/
# (ASan+UBSan); start the local servers (tools/servers.sh) unless they already
# run; ctest in both trees; every executable tests/integration/*.sh|*.py with
# the servers' environment; tests/fuzz/run.sh for a bounded time if it exists;
# valgrind over the unit test binaries of build/; stop the servers it started.
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
#
# Environment: TAPFLOW_MARIADB_PORT, TAPFLOW_MONGO_PORT, TAPFLOW_SERVERS_DIR
# (see tools/servers.sh), TAPFLOW_FUZZ_SECONDS (60), TAPFLOW_SKIP_SETUP=1 to
# skip tools/setup.sh, CI=true for a non-interactive run (it always is).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export PATH="$top/.local/bin:/usr/local/go/bin:${HOME:-/root}/go/bin:$PATH"
export CLICOLOR=0 NO_COLOR=1 CMOCKA_MESSAGE_OUTPUT=STDOUT

FUZZ_SECONDS=${TAPFLOW_FUZZ_SECONDS:-60}
STEP_TIMEOUT=900 # seconds for any one test program or script

passed=0
failed=0
report=() # one line per suite, printed at the end

now() { date +%s; }
section() { printf '\n=== %s\n' "$*"; }

# record SUITE PASSED FAILED SECONDS
record() {
    passed=$((passed + $2))
    failed=$((failed + $3))
    report+=("$(printf '%-28s %4d passed, %4d failed  (%ds)' "$1" "$2" "$3" "$4")")
}

finish() {
    section "summary"
    local line
    for line in "${report[@]}"; do echo "$line"; done
    echo "total time: $(($(now) - t_start))s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

t_start=$(now)

# --- setup -------------------------------------------------------------------

if [ "${TAPFLOW_SKIP_SETUP:-0}" != 1 ]; then
    section "setup (tools/setup.sh)"
    t=$(now)
    if bash tools/setup.sh; then
        echo "setup done in $(($(now) - t))s"
    else
        record setup 0 1 $(($(now) - t))
        finish
    fi
fi

# --- build -------------------------------------------------------------------

# build DIR CMAKE-ARGS... — configure and build one tree; returns non-zero on failure.
build() {
    local dir=$1
    shift
    local t
    t=$(now)
    section "build $dir $*"
    local log
    log=$(mktemp)
    if ! cmake -S "$top" -B "$top/$dir" -G Ninja "$@" >"$log" 2>&1; then
        cat "$log"
        rm -f "$log"
        record "build $dir" 0 1 $(($(now) - t))
        return 1
    fi
    rm -f "$log"
    if ! ninja -C "$top/$dir" >"$top/$dir/build.log" 2>&1; then
        grep -v '^\[[0-9]*/[0-9]*\] ' "$top/$dir/build.log" | tail -n 80
        record "build $dir" 0 1 $(($(now) - t))
        return 1
    fi
    echo "built $dir in $(($(now) - t))s"
    return 0
}

build_ok=0
asan_ok=0
# For /usr: tests/integration/package.sh packages this tree as the .deb.
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPFLOW_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr && build_ok=1
build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPFLOW_SANITIZE=ON && asan_ok=1

# --- servers -------------------------------------------------------------------

started=()
stop_started() {
    local which
    for which in "${started[@]}"; do bash tools/servers.sh stop "$which" || true; done
    started=()
}
trap stop_started EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT TERM

section "servers"
t=$(now)
servers_ok=1
for which in mariadb mongo; do
    if [[ $'\n'$(bash tools/servers.sh status)$'\n' == *$'\n'"$which: running"* ]]; then
        echo "$which already running: using it and leaving it running"
        continue
    fi
    started+=("$which")
    if ! bash tools/servers.sh start "$which"; then
        servers_ok=0
        record "start $which" 0 1 $(($(now) - t))
    fi
done
# The tests read TAPFLOW_* (host, port, user, password, socket, mongo URI).
eval "$(bash tools/servers.sh env)"

# --- unit tests (ctest) ----------------------------------------------------------

# run_ctest DIR LABEL — ctest in one tree; counts one test per ctest entry.
run_ctest() {
    local dir=$1 label=$2 t out total nfail
    t=$(now)
    section "$label: ctest in $dir"
    out="$top/$dir/ctest.log"
    ctest --test-dir "$top/$dir" --output-on-failure --timeout "$STEP_TIMEOUT" \
        -j "$(nproc)" 2>&1 | tee "$out"
    local rc=${PIPESTATUS[0]}
    # "100% tests passed, 0 tests failed out of 7"
    read -r nfail total < <(sed -n 's/^[0-9]*% tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1 \2/p' "$out" | tail -n 1)
    if [ -z "${total:-}" ]; then
        if grep -q 'No tests were found' "$out" && [ "$rc" -eq 0 ]; then
            total=0 nfail=0
        else
            total=1 nfail=1
        fi
    elif [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
        nfail=1 total=$((total + 1))
    fi
    record "$label" $((total - nfail)) "$nfail" $(($(now) - t))
}

[ $build_ok -eq 1 ] && run_ctest build "unit"
[ $asan_ok -eq 1 ] && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} run_ctest build-asan "unit asan+ubsan"

# --- integration tests -------------------------------------------------------------

# count_line FILE — the last "N passed, N failed" line of a log, as "N N".
count_line() {
    sed -n 's/^\([A-Za-z_-]*: \)\{0,1\}\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2 \3/p' "$1" | tail -n 1
}

if [ -d tests/integration ]; then
    section "integration tests"
    t=$(now)
    ip=0
    ifail=0
    for script in tests/integration/*.sh tests/integration/*.py; do
        [ -f "$script" ] && [ -x "$script" ] || continue
        echo "--- $script"
        log="$(mktemp)"
        if [ $servers_ok -eq 1 ]; then
            timeout "$STEP_TIMEOUT" "./$script" 2>&1 | tee "$log"
            rc=${PIPESTATUS[0]}
        else
            echo "servers did not start: not run" | tee "$log"
            rc=1
        fi
        read -r p f < <(count_line "$log")
        rm -f "$log"
        if [ -z "${p:-}" ]; then
            if [ "$rc" -eq 0 ]; then p=1 f=0; else p=0 f=1; fi
            echo "(no 'N passed, N failed' line: counted as one test by its exit code $rc)"
        elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            f=1
            echo "(exit code $rc with no failure counted: one failure added)"
        fi
        ip=$((ip + p))
        ifail=$((ifail + f))
        p='' f=''
    done
    record "integration" "$ip" "$ifail" $(($(now) - t))
fi

# --- fuzzing (bounded) ---------------------------------------------------------------

if [ -f tests/fuzz/run.sh ]; then
    section "fuzz: tests/fuzz/run.sh $FUZZ_SECONDS"
    t=$(now)
    log="$(mktemp)"
    timeout $((FUZZ_SECONDS * 4 + 600)) bash tests/fuzz/run.sh "$FUZZ_SECONDS" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    read -r p f < <(count_line "$log")
    rm -f "$log"
    if [ -z "${p:-}" ]; then
        if [ "$rc" -eq 0 ]; then p=1 f=0; else p=0 f=1; fi
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    record "fuzz" "$p" "$f" $(($(now) - t))
    p='' f=''
fi

# --- valgrind over the unit test binaries -----------------------------------------

if [ $build_ok -eq 1 ]; then
    section "valgrind (memcheck) over build/ unit tests"
    t=$(now)
    vdir=$(mktemp -d)
    mapfile -t binaries < <(find "$top/build/tests" -maxdepth 2 -type f -executable -name 'test_*' | sort)
    # Two at a time (one per core); each writes its own log, shown on failure.
    printf '%s\n' "${binaries[@]}" | xargs -r -P "$(nproc)" -I{} bash -c '
        bin=$1 vdir=$2 limit=$3
        name=$(basename "$bin")
        cd "$(dirname "$bin")"
        if timeout "$limit" valgrind --quiet --leak-check=full --error-exitcode=1 \
            --track-origins=yes "$bin" >"$vdir/$name.log" 2>&1; then
            echo "ok    $name"
            touch "$vdir/$name.ok"
        else
            echo "FAIL  $name"
        fi' _ {} "$vdir" "$STEP_TIMEOUT"
    vp=0
    vf=0
    for bin in "${binaries[@]}"; do
        name=$(basename "$bin")
        if [ -f "$vdir/$name.ok" ]; then
            vp=$((vp + 1))
        else
            vf=$((vf + 1))
            echo "--- valgrind $name"
            # Which test failed and why comes first; the leak records a
            # failed test leaves (it longjmps out) are long.
            grep -E '^\[  (FAILED|ERROR) |[Ff]ailure|\.c:[0-9]+: error|Invalid |uninitialised' \
                "$vdir/$name.log" | head -n 20
            tail -n 40 "$vdir/$name.log"
        fi
    done
    rm -rf "$vdir"
    record "valgrind" "$vp" "$vf" $(($(now) - t))
fi

stop_started
finish
