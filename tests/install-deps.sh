#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/install-deps.sh -- install the Debian packages axon's build and test
# suite need. Idempotent: installed packages are left alone, and apt-get runs
# only when something is missing.
#
#   bash tests/install-deps.sh                # every group but bench
#   bash tests/install-deps.sh build          # just enough to build and `make check`
#   bash tests/install-deps.sh build test     # what most suite configurations need
#   bash tests/install-deps.sh --print cross  # print the packages, install nothing
#   bash tests/install-deps.sh --missing      # print what is missing; exit 1 if any
#
# Groups:
#   build  autoconf automake libtool pkg-config libevent-dev check gcc make libc6-dev
#          libssl-dev (the optional TLS library), libnats-dev (libaxon-nats,
#          optional: configure --with-nats)
#   test   valgrind clang curl redis-tools netcat-openbsd nginx openssl nats-server,
#          python3 (tests/e2e.sh reads axload --json with it),
#          dnsmasq-base (the dnsmasq binary without the system service, which
#          would take port 53: check_dns starts its own), and clang's
#          sanitizer runtimes (libclang-rt-<clang major>-dev) where Debian
#          splits them out
#   cross  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user (the
#          aarch64 configuration: cross-built, run under qemu-aarch64)
#   pkg    cmake doxygen debhelper dpkg-dev lintian (the install and
#          debian configurations: the CMake consumer, make doc, the .debs)
#   bench  wrk nghttp2-client hey gnuplot-nox (bench/servers.sh's peer load
#          generators and its charts; only when named: no suite
#          configuration needs them)
#
# Runs apt-get as root, or through sudo. On a system without dpkg it says
# so and exits 0: the tools are assumed to be there. Exit status: 0 when
# every requested package is installed, 1 otherwise; the apt-get output
# goes to $AX_DEPS_LOG (default: a file in ${TMPDIR:-/tmp}) and is shown
# if apt-get fails.
set -euo pipefail

group_build="autoconf automake libtool pkg-config libevent-dev check gcc make libc6-dev libssl-dev libnats-dev"
group_test="valgrind clang curl redis-tools netcat-openbsd nginx openssl nats-server python3 dnsmasq-base"
group_cross="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
group_pkg="cmake doxygen debhelper dpkg-dev lintian"
group_bench="wrk nghttp2-client hey gnuplot-nox"
GROUPS_ALL="build test cross pkg"

mode=install
groups=()
for a in "$@"; do
    case $a in
    --print) mode=print ;;
    --missing) mode=missing ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    build | test | cross | pkg | bench) groups+=("$a") ;;
    *) echo "install-deps.sh: unknown argument '$a' (groups: $GROUPS_ALL bench)" >&2; exit 2 ;;
    esac
done
(( ${#groups[@]} )) || read -r -a groups <<<"$GROUPS_ALL"

packages() {
    local g v
    for g in "${groups[@]}"; do
        v=group_$g
        printf '%s\n' ${!v}
    done
}

# clang's sanitizer runtimes are only a Recommends on Debian 12
# (libclang-rt-14-dev); name the one for the installed clang, if Debian has it.
clang_rt() {
    local ver
    command -v clang >/dev/null 2>&1 || return 0
    command -v apt-cache >/dev/null 2>&1 || return 0
    ver=$(clang -dumpversion | cut -d. -f1)
    apt-cache show "libclang-rt-$ver-dev" >/dev/null 2>&1 && echo "libclang-rt-$ver-dev"
    return 0
}

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]; }

missing() {
    local p
    for p in "$@"; do installed "$p" || echo "$p"; done
}

mapfile -t want < <(packages)
if [[ $mode == print ]]; then
    printf '%s\n' "${want[@]}"
    [[ " ${groups[*]} " == *" test "* ]] && clang_rt
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps.sh: not a Debian system; assuming the tools are installed"
    exit 0
fi

sudo=
if (( EUID != 0 )); then
    sudo="sudo -n"
fi
log=${AX_DEPS_LOG:-${TMPDIR:-/tmp}/axon-install-deps.$$.log}

apt_install() { # [--no-install-recommends] packages...
    echo "install-deps.sh: apt-get install $*"
    if (( EUID != 0 )) && ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps.sh: not root and no sudo; as root run: apt-get update && apt-get install -y $*" >&2
        return 1
    fi
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
           >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "install-deps.sh: apt-get install $* failed (log: $log)" >&2
        return 1
    fi
}

# One apt-get per group that lacks something; the cross group without its
# Recommends (qemu-user's pull in a desktop's worth of packages), and so the
# pkg group (doxygen's and lintian's Recommends are large too).
status=0
for g in "${groups[@]}"; do
    v=group_$g
    # shellcheck disable=SC2086
    mapfile -t need < <(missing ${!v})
    # clang's sanitizer runtimes: looked up once clang itself is installed.
    if [[ $g == test ]] && installed clang; then
        mapfile -t -O "${#need[@]}" need < <(missing $(clang_rt))
    fi
    (( ${#need[@]} )) || continue
    if [[ $mode == missing ]]; then
        printf '%s\n' "${need[@]}"; status=1; continue
    fi
    flags=()
    [[ $g == cross || $g == pkg || $g == bench ]] && flags=(--no-install-recommends)
    apt_install "${flags[@]}" "${need[@]}" || status=1
    if [[ $g == test ]] && installed clang; then
        mapfile -t need < <(missing $(clang_rt))
        (( ${#need[@]} == 0 )) || apt_install "${need[@]}" || status=1
    fi
done
exit $status
