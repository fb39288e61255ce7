#!/usr/bin/env bash
# version.sh — every program answers --version with the same release and the
# git revision it was built from (tools/revision.cmake), and its --help
# mentions --version. Prints "N passed, N failed".
#
# usage: tests/integration/version.sh [BUILD_DIR]   (default build)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

rev=$(git -C "$top" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
first=""
for prog in tap/tap tapflow-binlog/tapflow-binlog tapflow-replica/tapflow-replica \
    tapflow-relay/tapflow-relay test-primary/tapflow-test-primary; do
    bin="$build/tools/$prog"
    name=$(basename "$prog")
    out=$("$bin" --version 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [[ $out =~ ^$name\ [0-9]+\.[0-9]+\.[0-9]+[-a-z]*\ \(git\ ([0-9a-f]{12}(-dirty)?|unknown)\)$ ]] &&
        [[ $out == *"git $rev"* ]]; then
        pass "$name --version: $out"
    else
        fail "$name --version (exit $rc, want revision $rev): $out"
    fi
    release=${out#"$name "}
    [ -z "$first" ] && first=$release
    if [ "$release" = "$first" ]; then
        pass "$name names the same release and revision as the others"
    else
        fail "$name says '$release', another says '$first'"
    fi
    if "$bin" --help 2>&1 | grep -q -- "--version"; then
        pass "$name --help mentions --version"
    else
        fail "$name --help does not mention --version"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
