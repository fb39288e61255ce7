#!/usr/bin/env bash
# setup.sh — install everything tapflow's build, tests and demo need.
#
#   tools/setup.sh            # build tools, libraries, MariaDB, FerretDB, mongosh,
#                             # packaging tools (cpack, dpkg-shlibdeps, lintian)
#   tools/setup.sh --bench    # the same, plus the peers the decode benchmark compares with
#
# Runs as root on a Debian machine, is idempotent (a second run installs
# nothing and takes about a second) and prints nothing unless a step fails, in
# which case it prints that step's log and exits non-zero. Everything that is
# not a Debian package goes under .local/ in the repository (git-ignored):
#   .local/bin/ferretdb   FerretDB v1.24.2 built from its Go module (its PostgreSQL
#                         backend uses Debian's postgresql, its SQLite one is built in)
#   .local/bin/mongosh    the MongoDB shell from npm (.local/npm/)
#   .local/venv/          Python tools for --bench (mysql-replication)
# --bench also builds tools/bench-decode/debezium-peer with Maven (Debezium's
# jars go to ~/.m2, the harness to its target/), with Debian's JDK 17 and Maven.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
local_dir="$top/.local"
export PATH="$local_dir/bin:/usr/local/go/bin:${HOME:-/root}/go/bin:$PATH"

FERRETDB_VERSION=v1.24.2
MONGOSH_VERSION=2.12.0

APT_PACKAGES=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libbson-dev libmongoc-dev libssl-dev libevent-dev libcmocka-dev
    zlib1g-dev libzstd-dev libedit-dev zstd
    mariadb-server mariadb-client
    clang clang-format libclang-rt-14-dev valgrind tshark
    python3 python3-venv
    lintian dpkg-dev man-db python3-pip python3-setuptools python3-wheel
    prometheus chromium tmux
)

bench=0
for arg in "$@"; do
    case "$arg" in
    --bench) bench=1 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (it installs Debian packages)" >&2
    exit 1
fi

logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# quiet NAME COMMAND... — run a step with its output in a log, shown only on failure.
quiet() {
    local name=$1
    shift
    if ! "$@" >"$logdir/$name.log" 2>&1; then
        echo "setup: step '$name' failed: $*" >&2
        tail -n 60 "$logdir/$name.log" >&2
        exit 1
    fi
}

# --- Debian packages ---------------------------------------------------------

missing=()
want=("${APT_PACKAGES[@]}")
command -v go >/dev/null 2>&1 || want+=(golang-go)
command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
# FerretDB's postgresql backend (tools/servers.sh, TAPFLOW_FERRETDB_BACKEND):
# the server packages only; servers.sh runs a private cluster of its own.
command -v mongod >/dev/null 2>&1 || want+=(postgresql)
if [ $bench -eq 1 ]; then
    command -v javac >/dev/null 2>&1 || want+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null 2>&1 || want+=(maven)
fi
for pkg in "${want[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    # tshark's postinst asks whether non-root users may capture; answer it up front.
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
    quiet apt-update apt-get update -q
    quiet apt-install apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$local_dir/bin"

# --- FerretDB (unless a real mongod is installed) -----------------------------
#
# `go install .../cmd/ferretdb@v1.24.2` builds a binary that panics at start:
# build/version/version.txt is generated at release time and is not part of the
# module. So we take the module's source from the Go module proxy, add the
# version file the release process would write, and build that. The SQLite
# backend is modernc.org/sqlite (pure Go), so no cgo is needed.

ferretdb_ok() {
    # Output captured first: `| grep -q` can stop reading early, and the SIGPIPE
    # it gives the writer would fail the pipeline under pipefail.
    local out
    [ -x "$local_dir/bin/ferretdb" ] && out=$("$local_dir/bin/ferretdb" --version 2>/dev/null) &&
        [[ $out == *"version: $FERRETDB_VERSION"* ]]
}

build_ferretdb() {
    local info moddir work
    info=$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION") || {
        echo "$info"
        return 1
    }
    moddir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [ -d "$moddir" ] || { echo "go mod download gave no source directory:"; echo "$info"; return 1; }
    work=$(mktemp -d)
    cp -R "$moddir" "$work/src" && chmod -R u+w "$work/src" || return 1
    echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
    echo "tapflow-setup" >"$work/src/build/version/package.txt"
    (cd "$work/src" && CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -o "$local_dir/bin/ferretdb.new" ./cmd/ferretdb)
    local rc=$?
    rm -rf "$work"
    [ $rc -eq 0 ] || return $rc
    mv -f "$local_dir/bin/ferretdb.new" "$local_dir/bin/ferretdb"
    ferretdb_ok || { "$local_dir/bin/ferretdb" --version; return 1; }
}

if ! command -v mongod >/dev/null 2>&1 && ! ferretdb_ok; then
    quiet ferretdb build_ferretdb
fi

# --- mongosh -------------------------------------------------------------------

mongosh_ok() {
    local out
    [ -x "$local_dir/bin/mongosh" ] && out=$("$local_dir/bin/mongosh" --version 2>/dev/null) &&
        [ "$out" = "$MONGOSH_VERSION" ]
}

install_mongosh() {
    mkdir -p "$local_dir/npm"
    npm install --prefix "$local_dir/npm" --no-audit --no-fund --loglevel=error \
        "mongosh@$MONGOSH_VERSION"
    ln -sfn ../npm/node_modules/.bin/mongosh "$local_dir/bin/mongosh"
    mongosh_ok
}

if ! mongosh_ok; then
    quiet mongosh install_mongosh
fi

# --- --bench: the peers the decode benchmark measures against -----------------

if [ $bench -eq 1 ]; then
    if [ ! -x "$local_dir/venv/bin/python" ]; then
        quiet venv python3 -m venv "$local_dir/venv"
    fi
    if ! "$local_dir/venv/bin/python" -c 'import pymysqlreplication' >/dev/null 2>&1; then
        quiet pip "$local_dir/venv/bin/pip" install -q --disable-pip-version-check mysql-replication
    fi
    # Go peers (go-mysql) keep their own go.mod under tools/; fetch their modules.
    while IFS= read -r gomod; do
        quiet "gomod-$(basename "$(dirname "$gomod")")" \
            bash -c 'cd "$1" && go mod download' _ "$(dirname "$gomod")"
    done < <(find "$top/tools" -name go.mod -not -path '*/node_modules/*')
    # The Debezium peer: its dependencies from Maven Central into ~/.m2, the
    # harness into target/ (debezium-peer.jar, lib/). Rebuilt only when its pom
    # or a source is newer than the jar. Never run by tools/test.sh.
    debezium="$top/tools/bench-decode/debezium-peer"
    if [ ! -f "$debezium/target/debezium-peer.jar" ] ||
        [ -n "$(find "$debezium/pom.xml" "$debezium/src" -newer "$debezium/target/debezium-peer.jar" -print)" ]; then
        quiet debezium-peer mvn -q -B -f "$debezium/pom.xml" package
    fi
fi
