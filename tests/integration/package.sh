#!/usr/bin/env bash
# package.sh — tapflow installed like real software (issue 16): builds the .deb
# with cpack from the build tree (configured with CMAKE_INSTALL_PREFIX=/usr),
# checks its dependencies and that lintian finds no error, installs it with
# dpkg -i (system user, config mode 600, state folder, units, man pages,
# completion, SDK), runs the guide's flow as tapflow-flow@Order_SingleView_Sync
# with a SIGKILL and a restart (tests/integration/package_flow.py; systemd is
# not PID 1 here, so the unit's ExecStart runs under its restart policy in a
# stand-in, tests/integration/package_systemd.py), builds the SDK's wheel,
# installs it in a fresh venv and runs the guide's Python example, then
# purges the package and checks nothing is left. Needs root (dpkg) and a
# machine without the tapflow package. Prints "N passed, N failed".
#
# usage: tests/integration/package.sh [BUILD_DIR]   (default build)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${TAPFLOW_BUILD_DIR:-$top/build}}
here=$top/tests/integration
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # check WHAT COMMAND... — one check: the command succeeds.
    local what=$1
    shift
    local out
    if out=$("$@" 2>&1); then pass "$what"; else fail "$what: ${out: -1500}"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
t_start=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
    fail "package.sh installs a .deb: run it as root"
    finish
fi
# Set while this script's package is installed: a run killed before its EXIT
# trap (a machine restarted mid-run) leaves it, and the next run purges what
# that run installed. Any other tapflow install is the user's: refused.
marker=/var/tmp/tapflow-package-test.installed
if dpkg-query -W -f='${Status}' tapflow 2>/dev/null | grep -q 'ok installed'; then
    if [ -f "$marker" ] && dpkg --purge tapflow >/dev/null 2>&1; then
        echo "package.sh: purged the package an interrupted run left installed"
    else
        fail "the tapflow package is already installed here: remove it first (dpkg -r tapflow)"
        finish
    fi
fi
rm -f "$marker"

tmp=$(mktemp -d)
installed=0
# The systemd stand-in's units: a supervisor and its flow daemon each.
export TAPFLOW_FAKE_SYSTEMD_DIR=$tmp/systemd
cleanup() {
    local pid_file pid
    for pid_file in "$TAPFLOW_FAKE_SYSTEMD_DIR"/*/SupervisorPID "$TAPFLOW_FAKE_SYSTEMD_DIR"/*/MainPID; do
        [ -f "$pid_file" ] && pid=$(cat "$pid_file") && [ "${pid:-0}" -gt 0 ] &&
            kill -KILL "$pid" 2>/dev/null
    done
    if [ $installed -eq 1 ]; then dpkg --purge tapflow >/dev/null 2>&1; fi
    if ! dpkg-query -W -f='${Status}' tapflow 2>/dev/null | grep -q 'ok installed'; then
        rm -f "$marker"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "package.sh: interrupted" >&2; exit 130' INT TERM

# --- the .deb ------------------------------------------------------------------

# The units name /usr/bin/tapflow-replica: the tree must be built for /usr
# (tools/test.sh configures build/ so; a no-op then).
if ! cmake -S "$top" -B "$build" -DCMAKE_INSTALL_PREFIX=/usr >"$tmp/cmake.log" 2>&1 ||
    ! cmake --build "$build" --target tap tapflow-replica tapflow-binlog tapflow-relay \
        tapflow_man_pages debian_changelog >>"$tmp/cmake.log" 2>&1; then
    fail "configure and build $build for /usr: $(tail -n 30 "$tmp/cmake.log")"
    finish
fi
rm -rf "$tmp/prefix"
if cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
    want="bin/tap bin/tapflow-replica bin/tapflow-binlog bin/tapflow-relay
          lib/python3/dist-packages/tapflow/lib.py lib/python3/dist-packages/tapflow/cli/cli.py
          share/man/man1/tap.1.gz share/man/man8/tapflow-replica.8.gz
          share/man/man1/tapflow-binlog.1.gz share/man/man8/tapflow-relay.8.gz
          share/man/man5/tapflow.conf.5.gz share/bash-completion/completions/tap
          lib/systemd/system/tapflow-flow@.service lib/systemd/system/tapflow-relay.service
          share/tapflow/tapflow.conf.example"
    absent=""
    for f in $want; do [ -e "$tmp/prefix/$f" ] || absent+=" $f"; done
    if [ -z "$absent" ]; then
        pass "cmake --install --prefix DIR: programs, SDK, man pages, completion, units, example"
    else
        fail "cmake --install --prefix DIR lacks$absent"
    fi
else
    fail "cmake --install: $(tail -n 20 "$tmp/install.log")"
fi
if cpack -G DEB -B "$tmp/deb" --config "$build/CPackConfig.cmake" >"$tmp/cpack.log" 2>&1; then
    deb=$(ls "$tmp"/deb/tapflow_*.deb 2>/dev/null | head -n 1)
fi
if [ -n "${deb:-}" ]; then
    pass "cpack builds $(basename "$deb")"
else
    fail "cpack: $(tail -n 30 "$tmp/cpack.log")"
    finish
fi

depends=$(dpkg-deb -f "$deb" Depends)
missing=""
# The shared libraries the programs link, as dpkg-shlibdeps names them.
for lib in libbson-1.0-0 libmongoc-1.0-0 libevent-2.1-7 libevent-pthreads-2.1-7 libssl3 \
    libzstd1 zlib1g libedit2 libc6 adduser python3; do
    [[ ", $depends," == *", $lib "* || ", $depends," == *", $lib,"* ]] || missing+=" $lib"
done
if [ -z "$missing" ]; then
    pass "Depends names the runtime libraries (dpkg-shlibdeps), adduser and python3"
else
    fail "Depends lacks$missing: $depends"
fi

lintian_out=$(lintian --no-tag-display-limit "$deb" 2>&1 | grep -v 'running with root privileges')
if ! grep -q '^E: ' <<<"$lintian_out"; then
    pass "lintian reports no error ($(grep -c '^W: ' <<<"$lintian_out") warnings)"
else
    fail "lintian: $lintian_out"
fi

# --- installed -------------------------------------------------------------------

touch "$marker"
if dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1; then
    installed=1
    pass "dpkg -i $(basename "$deb")"
else
    fail "dpkg -i: $(cat "$tmp/dpkg.log")"
    finish
fi
for prog in tap tapflow-replica tapflow-binlog tapflow-relay; do
    check "/usr/bin/$prog --version" bash -c "/usr/bin/$prog --version | grep -q '^$prog [0-9]'"
done
check "system user tapflow, home /var/lib/tapflow" bash -c \
    '[ "$(getent passwd tapflow | cut -d: -f3)" -lt 1000 ] &&
     [ "$(getent passwd tapflow | cut -d: -f6)" = /var/lib/tapflow ]'
check "/etc/tapflow/tapflow.conf: mode 600, owner tapflow, the commented example" bash -c \
    '[ "$(stat -c "%a %U" /etc/tapflow/tapflow.conf)" = "600 tapflow" ] &&
     grep -q "^# \[datasource MySQL_ECommerce\]" /etc/tapflow/tapflow.conf &&
     grep -q "^home = /var/lib/tapflow" /etc/tapflow/tapflow.conf'
# The example parses (the relay finds no [relay] section after reading it).
check "the example config parses (tapflow-relay reads it to the end)" bash -c \
    'out=$(runuser -u tapflow -- /usr/bin/tapflow-relay --config /etc/tapflow/tapflow.conf 2>&1)
     [[ $out == *"[relay"* && $out != *"line "* ]] || { echo "$out"; false; }'
check "/var/lib/tapflow and its flows/, run/, logs/, state/ belong to tapflow" bash -c \
    'for d in /var/lib/tapflow /var/lib/tapflow/flows /var/lib/tapflow/run /var/lib/tapflow/logs /var/lib/tapflow/state; do
         [ "$(stat -c %U "$d")" = tapflow ] || exit 1; done'
unit=/usr/lib/systemd/system/tapflow-flow@.service
check "tapflow-flow@.service: --gtid-resume, Restart=on-failure with backoff, KillSignal=SIGTERM" \
    bash -c "grep -q '^ExecStart=/usr/bin/tapflow-replica .*\$TAPFLOW_FLOW_START' $unit &&
             grep -q '^Environment=TAPFLOW_FLOW_START=--gtid-resume' $unit &&
             grep -q '^Restart=on-failure' $unit && grep -q '^RestartSec=' $unit &&
             grep -q '^RestartMaxDelaySec=' $unit && grep -q '^KillSignal=SIGTERM' $unit &&
             grep -q '^User=tapflow' $unit"
check "tapflow-relay.service runs /usr/bin/tapflow-relay" \
    grep -q '^ExecStart=/usr/bin/tapflow-relay --config /etc/tapflow/tapflow.conf' \
    /usr/lib/systemd/system/tapflow-relay.service
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify accepts both units (keys newer than this systemd aside)" bash -c \
        "out=\$(systemd-analyze verify $unit /usr/lib/systemd/system/tapflow-relay.service 2>&1 |
                grep -v -e 'RestartSteps' -e 'RestartMaxDelaySec' -e 'Failed to prepare filename' \
                        -e 'is not a valid unit name' -e 'instance' -e '^\$')
         [ -z \"\$out\" ] || { echo \"\$out\"; false; }"
fi
for page in tap.1 tapflow-replica.8 tapflow-binlog.1 tapflow-relay.8 tapflow.conf.5; do
    check "man ${page%.*}(${page##*.}) is installed and renders" bash -c \
        "LC_ALL=C.UTF-8 MANWIDTH=80 man ${page##*.} ${page%.*} 2>/dev/null | grep -q '^NAME'"
done
check "bash completion of tap offers its --help options" bash -c \
    'source /usr/share/bash-completion/completions/tap
     COMP_WORDS=(tap --con); COMP_CWORD=1; _tapflow_complete tap --con tap
     [ "${COMPREPLY[*]}" = --config ]'
check "Debian's python3 imports the installed SDK" \
    /usr/bin/python3 -c 'from tapflow.lib import *; from tapflow.cli.cli import init'

# --- the guide's flow as the unit -------------------------------------------------

# package_flow.py prints its own checks and a "N passed, N failed" line.
count_run() {
    local log=$tmp/part.log
    "$@" 2>&1 | tee "$log" | grep --line-buffered -v '^[0-9]* passed, [0-9]* failed$'
    local p f
    read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$log" | tail -n 1)
    if [ -z "${p:-}" ]; then
        fail "$*: no summary line"
    else
        passed=$((passed + p))
        failed=$((failed + f))
    fi
}
count_run python3 "$here/package_flow.py" service

# --- the SDK's wheel in a fresh venv ------------------------------------------------

# Built offline when Debian's setuptools and wheel are there, else with pip's
# isolated build (setuptools from PyPI); from a copy, so that setuptools'
# build/ and egg-info/ stay out of the work tree.
cp -r "$top/tools/python" "$tmp/sdk-src"
rm -rf "$tmp/sdk-src/tests"
find "$tmp/sdk-src" -name __pycache__ -prune -exec rm -rf {} +
if /usr/bin/python3 -c 'import setuptools, wheel' 2>/dev/null &&
    /usr/bin/python3 -m pip wheel --no-build-isolation --no-deps -w "$tmp/wheel" \
        "$tmp/sdk-src" >"$tmp/wheel.log" 2>&1 ||
    python3 -m pip wheel --no-deps -w "$tmp/wheel" "$tmp/sdk-src" >>"$tmp/wheel.log" 2>&1; then
    wheel=$(ls "$tmp"/wheel/tapflow-*.whl 2>/dev/null | head -n 1)
fi
if [ -n "${wheel:-}" ] && python3 -m zipfile -l "$wheel" >"$tmp/wheel.list" &&
    grep -q 'tapflow/cli/cli.py' "$tmp/wheel.list"; then
    pass "the SDK's wheel: $(basename "$wheel")"
else
    fail "building the SDK's wheel: $(tail -n 20 "$tmp/wheel.log")"
fi
if [ -n "${wheel:-}" ] && python3 -m venv "$tmp/venv" >"$tmp/venv.log" 2>&1 &&
    "$tmp/venv/bin/pip" install --no-index --no-deps "$wheel" >>"$tmp/venv.log" 2>&1; then
    pass "pip installs the wheel into a fresh venv (no network)"
    count_run python3 "$here/package_flow.py" sdk "$tmp/venv/bin/python"
else
    fail "venv with the wheel: $(tail -n 20 "$tmp/venv.log")"
fi

# --- removed -----------------------------------------------------------------------

if dpkg --purge tapflow >"$tmp/purge.log" 2>&1; then
    installed=0
    pass "dpkg --purge tapflow"
else
    fail "dpkg --purge: $(cat "$tmp/purge.log")"
fi
check "nothing left: programs, units, /etc/tapflow, /var/lib/tapflow, user tapflow" bash -c \
    '! [ -e /usr/bin/tap ] && ! [ -e /usr/lib/systemd/system/tapflow-flow@.service ] &&
     ! [ -e /etc/tapflow ] && ! [ -e /var/lib/tapflow ] && ! getent passwd tapflow &&
     ! getent group tapflow && ! [ -e /usr/lib/python3/dist-packages/tapflow ]'
echo "package.sh took $(($(date +%s) - t_start)) s"
finish
