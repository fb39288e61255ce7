#!/usr/bin/env bash
# man_pages.sh — every man page of tools/package/man agrees with its program:
# the options a page defines (the tags of its .TP/.TQ items that start with a
# dash) are exactly the options the program's --help prints (--help and -h
# aside), and tapflow.conf(5) defines exactly the keys
# tools/tapflow-replica/config.c parses. Each page also renders without a
# groff warning. Prints "N passed, N failed".
#
# usage: tests/integration/man_pages.sh [BUILD_DIR]   (default build)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${TAPFLOW_BUILD_DIR:-$top/build}}
man_dir=$top/tools/package/man
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Options a help text names: a dash word at a line start or after a space,
# '[', '(', '|' or ','.
help_options() {
    grep -oE -- '(^|[[:space:][(|,])--?[a-z][a-z0-9-]*' | grep -oE -- '--?[a-z][a-z0-9-]*' |
        grep -vxE -- '-h|--help' | sort -u
}

# The tags of a page's .TP/.TQ items (the line after the macro), roff
# escapes removed.
item_tags() {
    awk 'tag { print; tag = 0; next } /^\.(TP|TQ)/ { tag = 1 }' "$1" |
        sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/^\.[A-Z]* *//'
}

page_options() {
    item_tags "$1" | grep -E '^-' | help_options
}

# compare WHAT WANT_LIST GOT_LIST — one check: the two sorted lists are equal.
compare() {
    local what=$1 want=$2 got=$3
    local missing extra
    missing=$(comm -23 <(echo "$want") <(echo "$got") | tr '\n' ' ')
    extra=$(comm -13 <(echo "$want") <(echo "$got") | tr '\n' ' ')
    if [ -z "$missing$extra" ]; then
        pass "$what ($(echo "$want" | wc -w) names)"
    else
        fail "$what: missing from the page: [${missing% }], not in the program: [${extra% }]"
    fi
}

# check_program PAGE BIN [HELP-ARGS...]... — HELP-ARGS lists separated by ';'.
check_program() {
    local page=$1 bin=$2
    shift 2
    if [ ! -x "$bin" ]; then
        fail "$page: $bin is not built"
        return
    fi
    local help="" args=()
    for a in "$@" ';'; do
        if [ "$a" = ';' ]; then
            help+=$("$bin" "${args[@]}" 2>&1)$'\n'
            args=()
        else
            args+=("$a")
        fi
    done
    # Options of other programs a help text mentions (not the program's own).
    local foreign='^$'
    [ "$(basename "$bin")" = tapflow-relay ] && foreign='^--(read-from-remote-server|stop-never)$'
    compare "$page defines the options of $(basename "$bin") ${*//;/+}" \
        "$(help_options <<<"$help" | grep -vE "$foreign")" "$(page_options "$man_dir/$page")"
}

check_program tap.1 "$build/tools/tap/tap" --help
check_program tapflow-replica.8 "$build/tools/tapflow-replica/tapflow-replica" \
    --help ';' verify --help
check_program tapflow-binlog.1 "$build/tools/tapflow-binlog/tapflow-binlog" \
    --help ';' --stream --help
check_program tapflow-relay.8 "$build/tools/tapflow-relay/tapflow-relay" --help

compare "tapflow.conf.5 defines the keys config.c parses" \
    "$(grep -oE 'strcmp\(key, "[a-z_]+"\)' "$top/tools/tapflow-replica/config.c" |
        sed -E 's/.*"(.*)".*/\1/' | sort -u)" \
    "$(item_tags "$man_dir/tapflow.conf.5" | grep -E '^[a-z_]+$' | sort -u)"

for page in "$man_dir"/*.[1-8]; do
    warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    text=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null)
    if [ -z "$warnings" ] && [[ $text == *NAME* ]]; then
        pass "$(basename "$page") renders without warnings"
    else
        fail "$(basename "$page") renders with: $warnings"
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
