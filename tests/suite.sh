#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/suite.sh -- the whole axon test suite, driven by one table
# (SUITE_TABLE below): each row is a configuration, built out of tree in its
# own directory under _build/ and tested there.
#
#   bash tests/suite.sh                              # every configuration (aim: < 30 min, 2 cores)
#   AX_SUITE_ONLY=default,asan bash tests/suite.sh   # a subset
#   bash tests/suite.sh --list                       # the configurations, from the table
#   bash tests/suite.sh --help                       # this text and the list
#
# Packages: tests/install-deps.sh installs the groups the chosen
# configurations need (column "needs") on Debian, as root or with sudo.
# Environment: AX_SUITE_ONLY (comma list of configuration names),
# AX_BUILD_DIR (default: _build in the repo root), AX_JOBS (default: 2),
# AX_CHECK_JOBS (tests run at once by a configuration's make check,
# default AX_JOBS + 1), AX_PRECONFIGURE=0 (configure each configuration
# in its turn, not ahead in the background),
# AX_REPEAT (rounds of the repeat configuration, default 4),
# AX_NO_INSTALL=1 (never install packages).
#
# The last line printed is "N passed, N failed": the automake PASS and FAIL
# (+ERROR, +XPASS) counts summed over the configurations. The install and
# distcheck steps, and a configuration that does not build, count as one
# test each. A test that cannot run here reports SKIP (exit 77, or a
# "SKIP: ..." line inside a Check program, see CONTRIBUTING.md); skips are
# counted apart and never as passes. The exit status is 0 only if nothing
# failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------------------
# The configurations. Columns, separated by '|':
#   name         what AX_SUITE_ONLY names
#   needs        tests/install-deps.sh groups (build, test, cross, pkg)
#   runner       the run_<runner> function below that runs it
#   env          VAR=value defaults set while it runs (an inherited value wins)
#   configure    arguments for configure (runners check and tsan); @PREFIX@
#                is the install prefix under the build dir
#   description  for --list and the summary
# Rows run in this order; install, valgrind and distcheck reuse the default
# build (made, untested, when "default" itself is not selected), and so does
# debian (its dist tarball); repeat
# reuses the asan and tsan builds.
#
# Build time is most of a row's time on CI's two cores, so a row builds
# only what it uses:
#   --disable-static   every row but default: libtool then compiles each
#                      library source once (PIC) instead of twice. Only the
#                      install row links the static library (from the
#                      default build), and the debian row builds it from
#                      the tarball.
#   AX_NO_BENCH=1      (alt, asan, tsan) no benchmark is built but
#                      bench/idle_client, which e2e.sh drives (make and make
#                      check get noinst_PROGRAMS without the others). The
#                      benchmarks are the same code in every configuration;
#                      the default and noactors rows (--disable-actors
#                      changes the list) and the tarball's builds
#                      (distcheck, debian) build them all, and the soak row
#                      runs bench/soak.
#   AX_TESTS           (alt, noactors) make check builds only the test
#                      programs the row runs (check_PROGRAMS narrowed to
#                      them, helpers kept), not all of them.
# And the time nothing is built in is not left idle: every configure after
# the first starts at once in the background (niced, see preconfigure), and
# make check runs AX_CHECK_JOBS (AX_JOBS + 1) tests at a time once the
# test programs are built (with AX_JOBS), the longest first: e2e.sh and
# e2e-hard.sh mostly wait on their servers and clients (with two slots
# they held both for a minute in the asan row), and a long program
# started last was a row's tail. (One slot more, not two; and none in
# the tsan row, AX_CHECK_JOBS=2 there: under TSan e2e.sh's servers and
# its 0.3 s open-loop axload runs need their share of a core, and its
# 5 s guards fired on an overloaded machine.)
SUITE_TABLE='
default   | build      | check     |                         | CC=gcc --prefix=@PREFIX@       | gcc, assembly context switch: make check
alt       | build      | check     | AX_CHAT_FLOOD=2000 AX_E2E_HARD=0 AX_TESTS=@ALT_TESTS@ AX_NO_BENCH=1 AX_ACTOR_LIVES=200000 | CC=gcc --with-context=ucontext --disable-eventfd --disable-epoll --disable-static | gcc, the other back-ends (ucontext context switch, pipe doorbell, a libevent event per socket): make check of the programs that switch, cross loops and use sockets
noactors  | build      | check     | AX_CHAT_FLOOD=2000 AX_E2E_HARD=0 AX_TESTS=@NOACT_TESTS@ | CC=gcc --disable-actors --disable-static | gcc, the core alone (configure --disable-actors): make check of the programs the flag changes
asan      | build test | check     | CK_TIMEOUT_MULTIPLIER=4 AX_CHAT_FLOOD=2000 AX_NO_BENCH=1 AX_STRESS_SCALE=10 | CC=clang --enable-asan --disable-static | clang, ASan+UBSan: make check
tsan      | build test | tsan      | CK_TIMEOUT_MULTIPLIER=4 AX_E2E_HARD=0 AX_NO_BENCH=1 AX_STRESS_SCALE=10 AX_CHECK_JOBS=2 | --enable-tsan --disable-static | ThreadSanitizer, gcc or clang (whichever runs here): make check
repeat    | build      | repeat    | CK_TIMEOUT_MULTIPLIER=4 |                                | cross-thread suites AX_REPEAT (4) times in a row in the asan and tsan builds
valgrind  | build test | valgrind  |                         |                                | tests of the default build under valgrind memcheck (leaks are errors)
aarch64   | cross      | aarch64   |                         |                                | AArch64 context switch cross-built, run under qemu-aarch64
install   | build pkg  | install   |                         |                                | make doc + make install, then an app built with pkg-config (shared, static) and with CMake
distcheck | build      | distcheck | AX_E2E_HARD=0           |                                | make distcheck of the default build (configure --disable-static): every program built from the tarball; its make check runs the programs that read files of the source tree
fuzz      | build test | fuzz      |                         | CC=clang --enable-fuzz --disable-static | clang, libFuzzer targets under tests/fuzz for a bounded time each (AX_FUZZ_SECONDS, 10)
soak      | build      | soak      |                         |                                | bench/soak of the default build for AX_SOAK_SECONDS (20): conservation checked
debian    | build pkg  | debian    |                         |                                | dpkg-buildpackage -us -uc -b of the dist tarball (nocheck), then lintian
'

# The programs the alt row runs (AX_TESTS): those that switch between tasks
# most (for ucontext), those that cross loops (for the pipe doorbell), and
# those that use sockets (for --disable-epoll).
# One build carries both back-ends: each is what the other's tests do not
# touch, and a build of its own cost CI two minutes.
# AX_STRESS_SCALE=10 (asan, tsan): check_stress sends 200,000 messages
# instead of 2,000,000, as its comment proposes under sanitizers (the
# default row sends them all; the repeat rounds send 100,000): 25 s of CPU
# in each sanitizer row before.
# AX_ACTOR_LIVES=200000 (alt): check_actor_life's long case spawns,
# messages and ends actors on one loop 20,000,000 times natively; the
# default row does that with the same actor code (slots reused with no
# lifetime cap, RSS flat), and with ucontext (two sigprocmask calls per
# switch) it took about 100 s of the row, alone at its end. 200,000 lives
# still switch the ucontext way a million times, ten times what the
# sanitizer rows and valgrind run.
CTX_TESTS="tests/check_ctx tests/check_task tests/check_overflow tests/check_stack tests/check_gather tests/check_scope tests/check_runtime tests/check_examples tests/check_actor tests/check_supervisor tests/check_sharedstack"
# And those that watch descriptors (for --disable-epoll: a libevent event
# per socket instead of the loop's own epoll set).
POLL_TESTS="tests/check_net tests/check_udp tests/check_process tests/check_drain tests/check_ioset"
BELL_TESTS="tests/check_loop tests/check_runtime tests/check_queue tests/check_thread tests/check_sync tests/check_actor tests/check_actor_life tests/check_monitor tests/check_stress tests/e2e.sh"
# What --disable-actors changes: the programs with AXON_HAVE_ACTORS or
# AX_HAVE_ACTORS branches, the examples and documents built or skipped by
# it, and the installed headers (check_cxx). The core library is the same
# code as in the default row, which runs every test.
NOACT_TESTS="tests/check_error tests/check_runtime tests/check_alloc tests/check_examples tests/check_trace tests/check_cxx tests/e2e.sh tests/check_tutorial.sh tests/check_doc.sh"
NOACT_TESTS=${NOACT_TESTS// /,}
# make check starts its tests in list order, so the rows run the longest
# first (waiting on servers, or long under a sanitizer or valgrind): one of
# them started last was the row's tail, alone on a core.
SLOW_TESTS="tests/e2e-hard.sh tests/check_actor_life tests/check_task tests/e2e.sh tests/check_stack tests/check_runtime tests/check_alloc tests/check_stress tests/check_node tests/check_tls tests/check_net tests/check_sync tests/check_sharedstack tests/check_queue"
# slow_first LIST: LIST (words) with the SLOW_TESTS among them first.
slow_first() {
    local p out=
    for p in $SLOW_TESTS; do
        [[ " $* " == *" $p "* ]] && out+="${out:+ }$p"
    done
    for p in "$@"; do
        [[ " $SLOW_TESTS " == *" $p "* ]] || out+="${out:+ }$p"
    done
    printf '%s\n' "$out"
}
ALT_TESTS=$(printf '%s\n' $CTX_TESTS $BELL_TESTS $POLL_TESTS | awk '!seen[$0]++' | paste -sd,)

# Sanitizer settings for the asan and tsan builds, wherever their programs
# run (make check, repeat); they do not affect other builds.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

T_NAMES=()
declare -A T_NEEDS T_RUNNER T_ENV T_ARGS T_DESC
trim() { local v=$1; v=${v#"${v%%[![:space:]]*}"}; printf '%s' "${v%"${v##*[![:space:]]}"}"; }
while IFS='|' read -r c_name c_needs c_runner c_env c_args c_desc; do
    c_name=$(trim "$c_name")
    [[ -z $c_name || $c_name == \#* ]] && continue
    T_NAMES+=("$c_name")
    T_NEEDS[$c_name]=$(trim "$c_needs")
    T_RUNNER[$c_name]=$(trim "$c_runner")
    T_ENV[$c_name]=$(trim "$c_env")
    T_ARGS[$c_name]=$(trim "$c_args")
    T_DESC[$c_name]=$(trim "$c_desc")
done <<<"$SUITE_TABLE"

list_configs() {
    local n
    printf '%-10s %-11s %s\n' name needs description
    for n in "${T_NAMES[@]}"; do
        printf '%-10s %-11s %s\n' "$n" "${T_NEEDS[$n]// /,}" "${T_DESC[$n]}"
        [[ -z ${T_ARGS[$n]} ]] || printf '%-22s configure %s\n' "" "${T_ARGS[$n]}"
        [[ -z ${T_ENV[$n]} ]] || printf '%-22s env %s\n' "" "${T_ENV[$n]}"
    done
}

case ${1:-} in
--list) list_configs; exit 0 ;;
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    echo; list_configs; exit 0 ;;
"") ;;
*) echo "suite.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac

BUILD=${AX_BUILD_DIR:-$ROOT/_build}
JOBS=${AX_JOBS:-2}
CHECK_JOBS=${AX_CHECK_JOBS:-$((JOBS + 1))}
ONLY=${AX_SUITE_ONLY:-}
START=$(date +%s)

# Every step line carries the seconds since the suite began, so a slow CI
# log shows where the time went.
say() { printf '\n=== suite [%ss]: %s\n' "$(( $(date +%s) - START ))" "$*"; }
# A fatal problem before any configuration ran: still end with the line CI reads.
die() { printf 'suite: error: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 2; }

if [[ -n $ONLY ]]; then
    IFS=, read -r -a _names <<<"$ONLY"
    for _n in "${_names[@]}"; do
        [[ -n ${T_RUNNER[$_n]+x} ]] ||
            die "AX_SUITE_ONLY: unknown configuration '$_n' (known: $(IFS=,; echo "${T_NAMES[*]}"))"
    done
fi
want() { [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]; }

mkdir -p "$BUILD"

# Print a file, at most $2 lines (default 400), saying where the rest is.
show() {
    local file=$1 max=${2:-400} n
    [[ -f $file ]] || { echo "(no $file)"; return 0; }
    n=$(wc -l <"$file")
    echo "----- $file ($n lines)"
    if (( n > max )); then
        head -n "$max" "$file"
        echo "----- ... truncated; full file: $file"
    else
        cat "$file"
        echo "----- end of $file"
    fi
}

# ---------------------------------------------------------------------------
# 0. Packages: the union of the selected configurations' groups.

install_deps() {
    local groups=() g n
    for n in "${T_NAMES[@]}"; do
        want "$n" || continue
        for g in ${T_NEEDS[$n]}; do
            [[ " ${groups[*]} " == *" $g "* ]] || groups+=("$g")
        done
    done
    (( ${#groups[@]} )) || return 0
    if [[ ${AX_NO_INSTALL:-0} == 1 ]]; then
        echo "suite: AX_NO_INSTALL=1: not installing packages (groups: ${groups[*]})"
        return 0
    fi
    say "packages: bash tests/install-deps.sh ${groups[*]}"
    # The build group is required; a missing test or cross package makes
    # the configurations that need it fail or skip, and says so there.
    AX_DEPS_LOG=$BUILD/apt.log bash "$ROOT/tests/install-deps.sh" build ||
        die "tests/install-deps.sh build failed (see $BUILD/apt.log)"
    for g in "${groups[@]}"; do
        [[ $g == build ]] && continue
        AX_DEPS_LOG=$BUILD/apt.log bash "$ROOT/tests/install-deps.sh" "$g" ||
            echo "suite: warning: tests/install-deps.sh $g failed (see $BUILD/apt.log)"
    done
}
install_deps

# Compile and run a trivial threaded program with "$@" as the compiler and
# flags; prefix the run with $PROBE_WRAP if set. Succeeds if it ran.
probe() {
    local dir=$BUILD/probe
    mkdir -p "$dir"
    cat >"$dir/p.c" <<'EOF'
#include <pthread.h>
#include <stdio.h>
static int x;
static void *f(void *a) { x++; return a; }
int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0); return x == 1 ? 0 : 1; }
EOF
    "$@" -pthread -o "$dir/p" "$dir/p.c" >/dev/null 2>&1 || return 1
    ${PROBE_WRAP:-} "$dir/p" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------
# 1. Generate the build system. Out-of-tree builds need a source tree that
#    is not configured in-tree (the README's first command configures it).

if [[ -f $ROOT/config.status ]]; then
    say "the source tree is configured in-tree; running 'make distclean' there so out-of-tree builds work"
    make -s distclean >/dev/null 2>&1 || rm -f "$ROOT/config.status" "$ROOT/config.h"
fi
say "autoreconf -fi"
if ! autoreconf -fi >"$BUILD/autoreconf.log" 2>&1; then
    show "$BUILD/autoreconf.log" 100
    die "autoreconf -fi failed"
fi

# ---------------------------------------------------------------------------
# Results.

NAMES=()
declare -A R_PASS R_FAIL R_XFAIL R_SKIP R_NOTE R_SECS
TOT_PASS=0 TOT_FAIL=0 TOT_XFAIL=0 TOT_SKIP=0

record() { # name pass fail xfail skip note
    local now
    now=$(date +%s)
    NAMES+=("$1")
    R_SECS[$1]=$(( now - ${ROW_T0:-$now} ))
    ROW_T0=$now
    R_PASS[$1]=$2 R_FAIL[$1]=$3 R_XFAIL[$1]=$4 R_SKIP[$1]=$5 R_NOTE[$1]=$6
    TOT_PASS=$((TOT_PASS + $2)) TOT_FAIL=$((TOT_FAIL + $3))
    TOT_XFAIL=$((TOT_XFAIL + $4)) TOT_SKIP=$((TOT_SKIP + $5))
}

# The value of "# KEY: N" in an automake test-suite log (0 if absent).
count() {
    local v
    v=$(awk -v k="$2:" '$1 == "#" && $2 == k { print $3; exit }' "$1" 2>/dev/null || true)
    echo "${v:-0}"
}

# Record a `make check` run: $1 name, $2 make's exit status, $3 build dir,
# $4 test-suite log, $5 make's output, $6 note.
record_check() {
    local name=$1 rc=$2 dir=$3 log=$4 out=$5 note=${6:-}
    local pass=0 fail=0 xfail=0 skip=0
    if [[ -f $log ]]; then
        pass=$(count "$log" PASS)
        fail=$(( $(count "$log" FAIL) + $(count "$log" ERROR) + $(count "$log" XPASS) ))
        xfail=$(count "$log" XFAIL)
        skip=$(count "$log" SKIP)
    fi
    grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' "$out" 2>/dev/null || true
    grep -E '^check-exports:' "$out" 2>/dev/null || true
    # Tests skipped inside a program that otherwise passed (a Check test
    # calling AXT_SKIP, a part of e2e.sh): "SKIP: ..." lines in the logs of
    # this run's tests whose own result is not SKIP.
    local l inner=0 lines
    while IFS= read -r l; do
        grep -q '^:test-result: SKIP' "${l%.log}.trs" 2>/dev/null && continue
        lines=$(grep '^SKIP: ' "$l" || true)
        [[ -z $lines ]] && continue
        printf '%s\n' "$lines" | sed "s|^|  ${l#"$dir"/}: |"
        inner=$((inner + $(printf '%s\n' "$lines" | grep -c .)))
    done < <(find "$dir/tests" -name '*.log' -newer "$dir/.suite-mark" 2>/dev/null | sort)
    if (( inner > 0 )); then
        skip=$((skip + inner))
        note="${note:+$note; }$inner skipped inside passing programs"
    fi
    if (( rc != 0 )); then
        if (( fail == 0 )); then
            # The tests did not get to run, or something besides them failed.
            fail=1
            note="${note:+$note; }make check failed outside the tests"
            show "$out" 80
        fi
        show "$log" 1000
        echo "suite: $name: FAILED (build dir: $dir)"
    fi
    record "$name" "$pass" "$fail" "$xfail" "$skip" "$note"
}

# configure + make in $BUILD/$1; $2 is a command prefix for make (or "").
# Remaining args go to configure. Records a failure and returns 1 on error.
prepare() {
    local name=$1 wrap=$2; shift 2
    local dir=$BUILD/$name crc=0
    if [[ -n ${PRECONF_PID[$name]:-} ]]; then
        say "$name: configure $* (started in the background at ${PRECONF_AT[$name]}s)"
        wait "${PRECONF_PID[$name]}" || true
        unset "PRECONF_PID[$name]"
        crc=$(cat "$dir/configure.rc" 2>/dev/null || echo 1)
    else
        rm -rf "$dir"
        mkdir -p "$dir"
        say "$name: configure $*"
        (cd "$dir" && "$ROOT/configure" "$@" >configure.out 2>&1) || crc=$?
    fi
    if [[ $crc != 0 ]]; then
        show "$dir/configure.out" 40
        record "$name" 0 1 0 0 "configure failed"
        return 1
    fi
    # PREPARE_TARGETS: a row that needs only some programs builds only
    # those (the fuzz row: every tests/fuzz/fuzz_* program the Makefile
    # lists, not every example and benchmark).
    local targets="" p
    MAKE_VARS=()
    if [[ ${AX_NO_BENCH:-0} == 1 ]]; then
        targets=
        for p in $(make_var "$dir" noinst_PROGRAMS); do
            [[ $p == bench/* && $p != bench/idle_client ]] || targets+="${targets:+ }$p"
        done
        MAKE_VARS=(noinst_PROGRAMS="$targets")
        targets=
    fi
    if [[ ${PREPARE_TARGETS:-} == @fuzz@ ]]; then
        targets=$(make_var "$dir" noinst_PROGRAMS | tr ' ' '\n' | grep '^tests/fuzz/fuzz_' | tr '\n' ' ')
    fi
    say "$name: make -j$JOBS $targets${MAKE_VARS:+ (no benchmark but bench/idle_client)}"
    # shellcheck disable=SC2086
    if ! (cd "$dir" && $wrap make -j"$JOBS" "${MAKE_VARS[@]}" $targets >make.out 2>&1); then
        show "$dir/make.out" 80
        record "$name" 0 1 0 0 "build failed"
        return 1
    fi
}

# A full configuration: prepare, then make check.
run_config() {
    local name=$1 wrap=$2; shift 2
    local dir=$BUILD/$name rc=0
    prepare "$name" "$wrap" "$@" || return 0
    # A row that changes one part (the context switch, the doorbell) runs
    # the programs that exercise that part (AX_TESTS in its env column),
    # and builds only those test programs (and the helpers, which are not
    # tests); the default row runs them all.
    local tests_arg=() progs p tests
    progs=$(make_var "$dir" check_PROGRAMS)
    # shellcheck disable=SC2046
    tests=$(slow_first $(make_var "$dir" TESTS))
    tests_arg=(TESTS="$tests")
    if [[ -n ${AX_TESTS:-} ]]; then
        # shellcheck disable=SC2086
        tests=$(slow_first ${AX_TESTS//,/ })
        tests_arg=(TESTS="$tests")
        local tp keep=''
        tp=" $(make_var "$dir" TEST_PROGS) "
        for p in $progs; do
            [[ ,$AX_TESTS, == *,$p,* || $tp != *" $p "* ]] && keep+="${keep:+ }$p"
        done
        progs=$keep
        tests_arg+=(check_PROGRAMS="$progs")
    fi
    # The test programs are built with JOBS compilers, then the tests run
    # CHECK_JOBS at a time (make check finds the programs built).
    say "$name: make -j$JOBS $progs"
    # shellcheck disable=SC2086
    if ! (cd "$dir" && $wrap make -j"$JOBS" "${MAKE_VARS[@]}" $progs >check-build.out 2>&1); then
        show "$dir/check-build.out" 80
        record "$name" 0 1 0 0 "test programs do not build"
        return 0
    fi
    say "$name: make -j$CHECK_JOBS check TESTS=$tests"
    touch "$dir/.suite-mark"
    (cd "$dir" && $wrap make -j"$CHECK_JOBS" check "${MAKE_VARS[@]}" "${tests_arg[@]}" >check.out 2>&1) || rc=$?
    record_check "$name" "$rc" "$dir" "$dir/test-suite.log" "$dir/check.out" "$CONFIG_NOTE"
}

# The value of a make variable in the Makefile of directory $1.
make_var() {
    printf 'suite-print-var:\n\t@echo $(%s)\n' "$2" |
        make -s --no-print-directory -C "$1" -f Makefile -f - suite-print-var
}

# Install the default build into $PREFIX_DIR and build an application
# against it with pkg-config, shared and fully static. Runs in directory $1.
# (Every step checks its status: set -e does not apply inside a condition.)
install_steps() {
    local app=$1 f flags sflags h
    cd "$app" || return 1
    # The API reference goes in too when doxygen is here (make doc).
    if command -v doxygen >/dev/null 2>&1; then
        make -C "$DEFAULT_DIR" doc >doc.out 2>&1 || { cat doc.out; return 1; }
        tail -n 1 doc.out
    else
        echo "SKIP: make doc: no doxygen (bash tests/install-deps.sh pkg)"
    fi
    make -C "$DEFAULT_DIR" install >install.out 2>&1 || { cat install.out; return 1; }
    for f in include/axon.h include/axon/common.h include/axon/gather.h \
             lib/libaxon.so lib/libaxon.a lib/pkgconfig/axon.pc \
             lib/cmake/axon/axonConfig.cmake lib/cmake/axon/axonConfigVersion.cmake \
             bin/axload; do
        [[ -e $PREFIX_DIR/$f ]] || { echo "not installed: $f"; return 1; }
    done
    # The installed load generator runs from the prefix (its --help).
    LD_LIBRARY_PATH=$PREFIX_DIR/lib "$PREFIX_DIR/bin/axload" --help >axload-help.out 2>&1 &&
        grep -q -- '--rate' axload-help.out ||
        { echo "bin/axload --help failed:"; cat axload-help.out; return 1; }
    # Every public header of the build, whatever the list holds today.
    for h in $(make_var "$DEFAULT_DIR" axoninclude_HEADERS); do
        [[ -e $PREFIX_DIR/include/axon/${h##*/} ]] || { echo "not installed: $h"; return 1; }
    done
    [[ ! -e $PREFIX_DIR/lib/libaxon.la ]] || { echo "libaxon.la was installed"; return 1; }
    if command -v doxygen >/dev/null 2>&1; then
        for f in share/doc/axon/html/index.html share/man/man3/ax_spawn.3; do
            [[ -e $PREFIX_DIR/$f ]] || { echo "not installed: $f"; return 1; }
        done
    fi
    cp "$ROOT/examples/tutorial/03_tasks.c" app.c || return 1
    export PKG_CONFIG_PATH=$PREFIX_DIR/lib/pkgconfig
    flags=$(pkg-config --cflags --libs axon) || return 1
    echo "cc -o app app.c $flags"
    cc -o app app.c $flags || return 1
    LD_LIBRARY_PATH=$PREFIX_DIR/lib ./app >app.out 2>&1 ||
        { echo "./app failed:"; cat app.out; return 1; }
    # The C++17 check against the installed headers (not the source tree's).
    if command -v g++ >/dev/null 2>&1; then
        echo "g++ -std=c++17 -pedantic -o check_cxx tests/check_cxx.cpp $flags"
        g++ -std=c++17 -Wall -Wextra -Werror -pedantic -o check_cxx \
            "$ROOT/tests/check_cxx.cpp" $flags >cxx.out 2>&1 || { cat cxx.out; return 1; }
        LD_LIBRARY_PATH=$PREFIX_DIR/lib ./check_cxx >>cxx.out 2>&1 ||
            { echo "./check_cxx failed:"; cat cxx.out; return 1; }
        tail -n 1 cxx.out
    else
        echo "SKIP: C++17 check against the installed headers: no g++"
    fi
    sflags=$(pkg-config --static --cflags --libs axon) || return 1
    echo "cc -static -o app-static app.c $sflags"
    # (glibc's warnings about getaddrinfo in libevent's evutil are expected)
    cc -static -o app-static app.c $sflags >static-link.out 2>&1 ||
        { cat static-link.out; return 1; }
    if readelf -d app-static 2>/dev/null | grep NEEDED >/dev/null; then
        echo "app-static is dynamically linked"; return 1
    fi
    ./app-static >app-static.out 2>&1 ||
        { echo "./app-static failed:"; cat app-static.out; return 1; }
    echo "the installed app ran, shared and static; its output:"
    sed 's/^/  | /' app.out | head -n 20
    # The optional TLS library, where this build has it: a program
    # through `pkg-config axon-tls` alone (it pulls in axon and openssl).
    if grep -q 'AXON_HAVE_TLS 1' "$PREFIX_DIR/include/axon/features.h"; then
        [[ -e $PREFIX_DIR/lib/pkgconfig/axon-tls.pc && -e $PREFIX_DIR/include/axon/tls.h ]] ||
            { echo "not installed: axon-tls.pc or axon/tls.h"; return 1; }
        cat >tls-app.c <<'EOF_TLS'
#include <axon.h>
#include <axon/tls.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    ax_tls_ctx *cx;
    ax_tls_opts o = {.cert_file = "/nonexistent.pem", .key_file = "/nonexistent.key"};
    int rc = ax_tls_ctx_new(&cx, AX_TLS_CLIENT, NULL);

    if (rc) { printf("client context: %s\n", ax_strerror(rc)); return 1; }
    ax_tls_ctx_free(cx);
    rc = ax_tls_ctx_new(&cx, AX_TLS_SERVER, &o);
    if (rc != AX_ETLSFILE || !strstr(ax_tls_last_error(), "/nonexistent.pem")) {
        printf("missing certificate: %s (%s)\n", ax_err_name(rc), ax_tls_last_error());
        return 1;
    }
    printf("tls: %s: %s\n", ax_err_name(rc), ax_tls_last_error());
    return 0;
}
EOF_TLS
        flags=$(pkg-config --cflags --libs axon-tls) || return 1
        echo "cc -o tls-app tls-app.c $flags"
        cc -o tls-app tls-app.c $flags || return 1
        LD_LIBRARY_PATH=$PREFIX_DIR/lib ./tls-app >tls-app.out 2>&1 ||
            { echo "./tls-app failed:"; cat tls-app.out; return 1; }
        sed 's/^/  | /' tls-app.out
    fi
    # libaxon-nats, where configure built it: one program through
    # `pkg-config axon-nats`, run far enough to prove it links and loads.
    if [[ -e $PREFIX_DIR/lib/pkgconfig/axon-nats.pc ]]; then
        for f in include/axon/node.h lib/libaxon-nats.so; do
            [[ -e $PREFIX_DIR/$f ]] || { echo "not installed: $f"; return 1; }
        done
        cp "$ROOT/examples/nats/workers.c" nats-app.c || return 1
        flags=$(pkg-config --cflags --libs axon-nats) || return 1
        echo "cc -o nats-app nats-app.c $flags"
        cc -o nats-app nats-app.c $flags || return 1
        LD_LIBRARY_PATH=$PREFIX_DIR/lib ./nats-app client nats://127.0.0.1:1 1 \
            >nats-app.out 2>&1
        grep -q "cannot connect" nats-app.out ||
            { echo "./nats-app did not run:"; cat nats-app.out; return 1; }
        echo "the installed axon-nats app ran: $(head -n 1 nats-app.out)"
    fi
    cmake_steps
}

# A CMake project against the installed tree: find_package(axon) with a
# version, the imported target axon::axon, shared and then static (every
# installed header included, so a header CMake users cannot compile shows).
cmake_steps() {
    local h
    if ! command -v cmake >/dev/null 2>&1; then
        echo "SKIP: CMake consumer: no cmake (bash tests/install-deps.sh pkg)"
        return 0
    fi
    mkdir -p cmake-app || return 1
    cp "$ROOT/examples/tutorial/03_tasks.c" cmake-app/app.c || return 1
    {
        for h in "$PREFIX_DIR"/include/axon/*.h; do echo "#include <axon/${h##*/}>"; done
        echo 'int axon_all_headers_included = 1;'
    } >cmake-app/headers.c
    cat >cmake-app/CMakeLists.txt <<'EOF_CMAKE'
cmake_minimum_required(VERSION 3.13)
project(axon_consumer C)
find_package(axon 0.1 REQUIRED)
message(STATUS "axon ${axon_VERSION} found; actors: ${axon_HAVE_ACTORS}")
add_executable(app app.c headers.c)
set_property(TARGET app PROPERTY C_STANDARD 11)
target_link_libraries(app PRIVATE axon::axon)
EOF_CMAKE
    local mode
    for mode in shared static; do
        rm -rf "cmake-$mode"
        echo "cmake -S cmake-app -B cmake-$mode (axon::axon $mode)"
        cmake -S cmake-app -B "cmake-$mode" -DCMAKE_PREFIX_PATH="$PREFIX_DIR" \
            -DAXON_USE_STATIC_LIBS=$([[ $mode == static ]] && echo ON || echo OFF) \
            >"cmake-$mode.out" 2>&1 || { cat "cmake-$mode.out"; return 1; }
        cmake --build "cmake-$mode" >>"cmake-$mode.out" 2>&1 ||
            { cat "cmake-$mode.out"; return 1; }
        if [[ $mode == static ]] && readelf -d "cmake-$mode/app" | grep 'NEEDED.*libaxon' >/dev/null; then
            echo "cmake-static/app links libaxon.so"; return 1
        fi
        LD_LIBRARY_PATH=$PREFIX_DIR/lib "cmake-$mode/app" >"cmake-$mode-app.out" 2>&1 ||
            { echo "cmake-$mode/app failed:"; cat "cmake-$mode-app.out"; return 1; }
        # (the same lines as ./app's, clock times aside)
        cmp -s <(sed 's/[0-9:]*$//' app.out) <(sed 's/[0-9:]*$//' "cmake-$mode-app.out") ||
            { echo "cmake-$mode/app printed something else than ./app"; return 1; }
    done
    # A version this release does not satisfy is refused.
    sed -i 's/find_package(axon 0.1 REQUIRED)/find_package(axon 7.0 REQUIRED)/' cmake-app/CMakeLists.txt
    if cmake -S cmake-app -B cmake-badver -DCMAKE_PREFIX_PATH="$PREFIX_DIR" >cmake-badver.out 2>&1; then
        echo "find_package(axon 7.0) was accepted"; return 1
    fi
    echo "CMake: find_package(axon 0.1) + axon::axon built and ran, shared and static; axon 7.0 refused"
}

# ---------------------------------------------------------------------------
# 2. The runners: run_<runner> NAME CONFIGURE-ARGS...

DEFAULT_DIR=$BUILD/default
PREFIX_DIR=$BUILD/prefix
DEFAULT_TRIED=0
MAKE_VARS=()
CONFIG_NOTE=

# A generic configuration: configure with the table's arguments, make,
# make check.
run_check() {
    local name=$1; shift
    run_config "$name" "" "$@"
    [[ $name == default ]] && DEFAULT_TRIED=1
    return 0
}

# The default build for the steps that reuse it (install, valgrind,
# distcheck): made, untested, when "default" is not selected. (prepare
# records a failure under "default" if it does not build.) True if its
# library is there, even if its tests failed.
default_build() {
    if (( DEFAULT_TRIED == 0 )); then
        DEFAULT_TRIED=1
        # shellcheck disable=SC2086
        prepare default "" $(config_args default) || true
    fi
    [[ -f $DEFAULT_DIR/libaxon.la && -x $DEFAULT_DIR/libtool ]]
}

# TSan needs a compiler whose runtime copes with this kernel's address
# space layout; fall back to running with ASLR disabled (setarch -R).
tsan_cc= tsan_wrap= tsan_probed=0
tsan_probe() {
    local _cc
    (( tsan_probed )) && return 0
    tsan_probed=1
    for _cc in gcc clang; do
        command -v "$_cc" >/dev/null 2>&1 || continue
        if PROBE_WRAP= probe "$_cc" -fsanitize=thread; then
            tsan_cc=$_cc; break
        fi
    done
    if [[ -z $tsan_cc ]] && command -v setarch >/dev/null 2>&1; then
        for _cc in gcc clang; do
            command -v "$_cc" >/dev/null 2>&1 || continue
            if PROBE_WRAP="setarch $(uname -m) -R" probe "$_cc" -fsanitize=thread; then
                tsan_cc=$_cc tsan_wrap="setarch $(uname -m) -R"; break
            fi
        done
    fi
}
run_tsan() {
    local name=$1; shift
    tsan_probe
    if [[ -z $tsan_cc ]]; then
        echo "suite: $name: neither gcc nor clang can run a ThreadSanitizer program here"
        record "$name" 0 1 0 0 "no working ThreadSanitizer"
        return 0
    fi
    CONFIG_NOTE="$tsan_cc, TSan${tsan_wrap:+, under $tsan_wrap}"
    run_config "$name" "$tsan_wrap" CC="$tsan_cc" "$@"
}

# Flakes are bugs: the cross-thread suites run AX_REPEAT (4) times in a
# row in the sanitizer builds (smaller stress sizes there), each round a
# test. With the asan and tsan rows' own run that is five runs of each in
# each build. Four rounds, not eight: a round costs CI about 30 s (tsan
# 20, asan 10), and in every recorded run of the suite (20 rounds, then
# 8) every round of every program passed. AX_REPEAT=20 before a release,
# or when chasing a flake.
# A program may name the one Check case (CK_RUN_CASE) to repeat: prog:case.
REPEAT_PROGS="tests/check_runtime tests/check_actor tests/check_monitor tests/check_stress tests/check_queue:cross"
REPEAT_TIMES=${AX_REPEAT:-4}
run_repeat() {
    local name=$1 cfg dir rp rf p ok i wrap
    for cfg in tsan asan; do
        dir=$BUILD/$cfg
        if [[ ! -x $dir/tests/check_runtime ]]; then
            echo "suite: $name: no $cfg build (run the $cfg configuration too)"
            record "$name-$cfg" 0 0 0 1 "no $cfg build"
            continue
        fi
        wrap=
        [[ $cfg == tsan ]] && wrap=$tsan_wrap
        say "$name: $REPEAT_PROGS, $REPEAT_TIMES times each, in the $cfg build"
        rp=0 rf=0
        for p in $REPEAT_PROGS; do
            ok=1
            case_=
            [[ $p == *:* ]] && { case_=${p#*:}; p=${p%%:*}; }
            for ((i = 1; i <= REPEAT_TIMES; i++)); do
                if ! (cd "$dir" && { [[ -z $case_ ]] || export CK_RUN_CASE=$case_; } &&
                       AX_STRESS_SCALE=20 $wrap ./"$p" >"$p.repeat.log" 2>&1); then
                    echo "suite: $name: $p failed in round $i ($cfg)"
                    show "$dir/$p.repeat.log" 80
                    ok=0
                    break
                fi
            done
            if ((ok)); then rp=$((rp + 1)); echo "  $p: $REPEAT_TIMES/$REPEAT_TIMES"; else rf=$((rf + 1)); fi
        done
        record "$name-$cfg" "$rp" "$rf" 0 0 "$REPEAT_TIMES rounds each"
    done
}

run_valgrind() {
    local name=$1 rc=0 progs p vg vg_tests=
    if ! default_build; then
        record "$name" 0 1 0 0 "default build unavailable"
        return 0
    fi
    say "$name: building the default build's tests"
    progs=$(make_var "$DEFAULT_DIR" TEST_PROGS)
    if ! (cd "$DEFAULT_DIR" && make -j"$JOBS" $progs >valgrind-build.out 2>&1); then
        show "$DEFAULT_DIR/valgrind-build.out" 80
        record "$name" 0 1 0 0 "test programs do not build"
        return 0
    fi
    for p in $(slow_first $progs); do
        # check_overflow dies on purpose; check_ctx runs bare contexts on
        # stacks valgrind is not told about.
        # check_node talks to real nats-server processes for ~10 minutes
        # under memcheck (clean when run by hand: AX_VALGRIND_ALL=1).
        [[ $p == */check_node && -z ${AX_VALGRIND_ALL:-} ]] && continue
        [[ $p == */check_overflow || $p == */check_ctx ]] || vg_tests+="${vg_tests:+ }$p"
    done
    vg="$DEFAULT_DIR/libtool --mode=execute valgrind --error-exitcode=99"
    vg+=" --leak-check=full --errors-for-leak-kinds=definite,indirect"
    vg+=" --show-leak-kinds=definite,indirect"
    # Forked, as Check runs them everywhere else: every test starts from
    # fresh state, and valgrind checks each test's child at its exit (a
    # leak there is exit code 99, which Check reports as the test's
    # failure). With CK_FORK=no a failed assertion inside a task longjmps
    # off the task's stack and every later test in the program inherits a
    # half-torn runtime.
    say "$name: make check under valgrind (forked tests): $vg_tests"
    touch "$DEFAULT_DIR/.suite-mark"
    (cd "$DEFAULT_DIR" &&
        CK_TIMEOUT_MULTIPLIER=10 AX_UNDER_VALGRIND=1 make -j"$JOBS" check \
            TESTS="$vg_tests" LOG_COMPILER="$vg" \
            TEST_SUITE_LOG=test-suite-valgrind.log \
            >valgrind.out 2>&1) || rc=$?
    record_check "$name" "$rc" "$DEFAULT_DIR" \
        "$DEFAULT_DIR/test-suite-valgrind.log" "$DEFAULT_DIR/valgrind.out" \
        "default build, memcheck, check_overflow, check_ctx (and check_node unless AX_VALGRIND_ALL=1) not run"
}

# The AArch64 context switch, cross-built and run under qemu-user: the one
# back-end an x86-64 machine cannot run natively.
run_aarch64() {
    local name=$1 A64=$BUILD/aarch64 pass=0 fail=0 O be src def exe
    say "$name: tests/ctx_selftest.c cross-built, run under qemu-aarch64"
    mkdir -p "$A64"
    : >"$A64/config.h"
    if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
        echo "suite: $name: no cross compiler or qemu-user (bash tests/install-deps.sh cross); skipped"
        record "$name" 0 0 0 1 "no cross toolchain"
        return 0
    fi
    for O in -O0 -O2; do
        for be in asm ucontext; do
            if [[ $be == asm ]]; then
                src=framework/ctx/ctx_aarch64.S; def=-DAX_CTX_ASM=1
            else
                src=framework/ctx/ctx_ucontext.c; def=-DAX_CTX_UCONTEXT=1
            fi
            exe=$A64/ctx_$be$O
            if aarch64-linux-gnu-gcc -static -std=c11 -D_GNU_SOURCE $O -Wall -Wextra -Werror \
                   -Iframework -I"$A64" $def tests/ctx_selftest.c "$src" -o "$exe" -lm \
                   >"$exe.out" 2>&1 && qemu-aarch64 "$exe" >>"$exe.out" 2>&1; then
                pass=$((pass + 1)); tail -n 1 "$exe.out"
            else
                fail=$((fail + 1)); show "$exe.out" 60
            fi
        done
    done
    record "$name" "$pass" "$fail" 0 0 "ctx back-ends under qemu-aarch64"
}

run_install() {
    local name=$1
    if ! default_build; then
        record "$name" 0 1 0 0 "default build unavailable"
        return 0
    fi
    say "$name: make install into $PREFIX_DIR, then build examples/tutorial/03_tasks.c with pkg-config and CMake (and the TLS and NATS programs with pkg-config)"
    rm -rf "$PREFIX_DIR" "$BUILD/app"
    mkdir -p "$BUILD/app"
    if (install_steps "$BUILD/app") >"$BUILD/app/steps.out" 2>&1; then
        cat "$BUILD/app/steps.out"
        record "$name" 1 0 0 "$(grep -c '^SKIP:' "$BUILD/app/steps.out")" "pkg-config shared + static, CMake"
    else
        cat "$BUILD/app/steps.out"
        echo "suite: $name: FAILED (see $BUILD/app)"
        record "$name" 0 1 0 0 "pkg-config shared + static, CMake"
    fi
}

run_distcheck() {
    local name=$1 l
    if ! default_build; then
        record "$name" 0 1 0 0 "default build unavailable"
        return 0
    fi
    # The tarball's own build builds every program (so every source is in
    # it) and runs the programs that read files from the tree: the
    # examples (check_examples), the tutorial and the docs check, the
    # headers from C++ (check_cxx), and e2e-hard.sh, which skips here
    # (AX_E2E_HARD=0) after reading tests/e2e-lib.sh. The default row
    # already ran every test on the same sources. e2e.sh is not run here:
    # it was the longest program of this list (about 60 s, waiting on its
    # servers) and reads no file of the tree but e2e-lib.sh.
    # AX_DISTCHECK_TESTS=all runs every test, as a release does.
    local dtests=${AX_DISTCHECK_TESTS:-tests/check_examples tests/e2e-hard.sh tests/check_tutorial.sh tests/check_doc.sh tests/check_error tests/check_runtime tests/check_cxx}
    # Its configure gets --disable-static (DISTCHECK_CONFIGURE_FLAGS, this
    # runner only): the debian row builds the static library from the same
    # tarball.
    local targ=(DISTCHECK_CONFIGURE_FLAGS=--disable-static)
    [[ $dtests == all ]] || targ+=(TESTS="$dtests")
    say "$name: make distcheck ${targ[*]}"
    if (cd "$DEFAULT_DIR" && make -j"$JOBS" distcheck "${targ[@]}" >distcheck.out 2>&1); then
        grep -A1 -E '^(# (TOTAL|PASS|FAIL|ERROR):|axon-.* archives ready)' \
            "$DEFAULT_DIR/distcheck.out" | grep -v '^--$' || true
        record "$name" 1 0 0 0 "make distcheck"
    else
        show "$DEFAULT_DIR/distcheck.out" 150
        while IFS= read -r l; do show "$l" 400; done < <(
            find "$DEFAULT_DIR" -path '*/axon-*/_build/*' -name test-suite.log 2>/dev/null)
        echo "suite: $name: FAILED"
        record "$name" 0 1 0 0 "make distcheck"
    fi
}

# Build with libFuzzer (configure --enable-fuzz) and run every target
# tests/fuzz/fuzz_NAME for AX_FUZZ_SECONDS, from a scratch corpus seeded
# with its kept inputs (tests/fuzz/NAME-regress/, if any). A crash leaves
# its input in the build dir's fuzz-NAME/ (crash-*): copy it into the kept
# inputs, which `make check` replays in every configuration.
run_fuzz() {
    local name=$1 dir=$BUILD/$1 t base out pass=0 fail=0 secs=${AX_FUZZ_SECONDS:-10}
    shift
    PREPARE_TARGETS=@fuzz@ prepare "$name" "" "$@" || return 0
    for t in "$dir"/tests/fuzz/fuzz_*; do
        [[ -x $t && ! -d $t ]] || continue
        base=${t##*/fuzz_}
        mkdir -p "$dir/fuzz-$base/corpus"
        if [[ -d $ROOT/tests/fuzz/$base-regress ]]; then
            cp "$ROOT/tests/fuzz/$base-regress"/* "$dir/fuzz-$base/corpus/" 2>/dev/null || true
        fi
        out=$dir/fuzz-$base/run.out
        say "$name: $base for ${secs}s"
        if (cd "$dir/fuzz-$base" && "$t" -max_total_time="$secs" -timeout=20 \
                -rss_limit_mb=1024 -print_final_stats=1 corpus >"$out" 2>&1); then
            grep -E '^(stat::number_of_executed_units|#[0-9]+.*DONE)' "$out" || true
            pass=$((pass + 1))
        else
            show "$out" 60
            echo "suite: $name: $base FAILED (input kept in $dir/fuzz-$base)"
            fail=$((fail + 1))
        fi
    done
    (( pass + fail > 0 )) || fail=1
    record "$name" "$pass" "$fail" 0 0 "libFuzzer, ${secs}s per target"
}

# bench/soak of the default build: its exit status is the conservation
# check (never a timing).
run_soak() {
    local name=$1 secs=${AX_SOAK_SECONDS:-20}
    if ! default_build; then
        record "$name" 0 1 0 0 "default build unavailable"
        return 0
    fi
    say "$name: bench/soak $secs 2 1"
    if (cd "$DEFAULT_DIR" && make bench/soak >soak-build.out 2>&1 &&
            ./bench/soak "$secs" 2 1 >soak.out 2>&1); then
        tail -n 7 "$DEFAULT_DIR/soak.out"
        record "$name" 1 0 0 0 "bench/soak ${secs}s"
    else
        show "$DEFAULT_DIR/soak-build.out" 40
        show "$DEFAULT_DIR/soak.out" 80
        echo "suite: $name: FAILED"
        record "$name" 0 1 0 0 "bench/soak ${secs}s"
    fi
}

# The Debian packages, built from the dist tarball as a packager would
# (without make check: the other rows run it), then lintian, whose errors
# fail the row.
run_debian() {
    local name=$1 dir=$BUILD/debian tarball src f
    if ! default_build; then
        record "$name" 0 1 0 0 "default build unavailable"
        return 0
    fi
    for f in dpkg-buildpackage dh lintian; do
        if ! command -v $f >/dev/null 2>&1; then
            echo "suite: $name: no $f (bash tests/install-deps.sh pkg); skipped"
            record "$name" 0 0 0 1 "no $f"
            return 0
        fi
    done
    say "$name: make dist, then dpkg-buildpackage -us -uc -b and lintian"
    rm -rf "$dir"
    mkdir -p "$dir"
    if ! (cd "$DEFAULT_DIR" && make dist-gzip >"$dir/dist.out" 2>&1); then
        show "$dir/dist.out" 60
        record "$name" 0 1 0 0 "make dist failed"
        return 0
    fi
    tarball=$(ls "$DEFAULT_DIR"/axon-*.tar.gz | head -n 1)
    tar -C "$dir" -xzf "$tarball"
    src=$(ls -d "$dir"/axon-*/ | head -n 1)
    if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=$JOBS" \
            dpkg-buildpackage -us -uc -b >"$dir/build.out" 2>&1); then
        show "$dir/build.out" 120
        record "$name" 0 1 0 0 "dpkg-buildpackage failed"
        return 0
    fi
    ls "$dir"/*.deb || true
    local fail=0
    for f in libaxon0 libaxon-dev axload; do
        ls "$dir"/${f}_*.deb >/dev/null 2>&1 || { echo "no $f package"; fail=1; }
    done
    # (the listing goes to a file: grep -q stops reading early, and under
    # pipefail dpkg-deb's SIGPIPE would fail the check)
    dpkg-deb -c "$dir"/libaxon-dev_*.deb >"$dir/libaxon-dev.list" || fail=1
    if grep -q '\.la$' "$dir/libaxon-dev.list"; then
        echo "libaxon-dev ships a .la file"; fail=1
    fi
    grep -q 'cmake/axon/axonConfig.cmake$' "$dir/libaxon-dev.list" ||
        { echo "libaxon-dev has no axonConfig.cmake"; fail=1; }
    dpkg-deb -c "$dir"/axload_*.deb 2>/dev/null >"$dir/axload.list"
    grep -q '/usr/bin/axload$' "$dir/axload.list" ||
        { echo "the axload package has no /usr/bin/axload"; fail=1; }
    if ! lintian --fail-on error "$dir"/*.changes >"$dir/lintian.out" 2>&1; then
        echo "lintian reports errors:"; fail=1
    fi
    grep -E '^[EW]:' "$dir/lintian.out" || true
    if ((fail)); then
        echo "suite: $name: FAILED (see $dir)"
        record "$name" 0 1 0 0 "dpkg-buildpackage + lintian"
    else
        record "$name" 1 0 0 0 "dpkg-buildpackage + lintian: $(grep -c '^W:' "$dir/lintian.out") warnings"
    fi
}

# The table's configure arguments for NAME, with @PREFIX@ filled in.
config_args() { local a=${T_ARGS[$1]}; printf '%s\n' "${a//@PREFIX@/$PREFIX_DIR}"; }

# Run one row: its env defaults (an inherited value wins), then its runner.
run_row() {
    local name=$1 kv k
    for kv in ${T_ENV[$name]}; do
        kv=${kv//@ALT_TESTS@/$ALT_TESTS} kv=${kv//@NOACT_TESTS@/$NOACT_TESTS}
        k=${kv%%=*}
        [[ -n ${!k+x} ]] || local -x "$kv"
    done
    CONFIG_NOTE=${T_DESC[$name]%%:*}
    ROW_T0=$(date +%s)
    # shellcheck disable=SC2046
    "run_${T_RUNNER[$name]}" "$name" $(config_args "$name")
}

# Configure ahead: configure is one process at a time, so while a row
# builds or tests, the later rows' configures run beside it, niced (they
# take what CPU the row leaves). Every selected row with a build of its own
# but the first gets its configure started here; prepare() waits for it and
# reads its status. (A row's seconds in the summary then leave out most of
# its configure.) AX_PRECONFIGURE=0 configures each row in its turn.
declare -A PRECONF_PID=() PRECONF_AT=()
preconfigure() {
    local n dir first=1 need_default=0 args=()
    [[ ${AX_PRECONFIGURE:-1} == 0 ]] && return 0
    for n in valgrind install distcheck soak debian; do
        want "$n" && need_default=1
    done
    for n in "${T_NAMES[@]}"; do
        case ${T_RUNNER[$n]} in
        check | tsan | fuzz) ;;
        *) continue ;;
        esac
        want "$n" || [[ $n == default && $need_default == 1 ]] || continue
        if ((first)); then first=0; continue; fi
        read -r -a args <<<"$(config_args "$n")"
        if [[ ${T_RUNNER[$n]} == tsan ]]; then
            tsan_probe
            [[ -n $tsan_cc ]] || continue
            args=(CC="$tsan_cc" "${args[@]}")
        fi
        dir=$BUILD/$n
        rm -rf "$dir"
        mkdir -p "$dir"
        (
            rc=0
            cd "$dir" && nice -n 10 "$ROOT/configure" "${args[@]}" >configure.out 2>&1 || rc=$?
            echo "$rc" >"$dir/configure.rc"
        ) &
        PRECONF_PID[$n]=$!
        PRECONF_AT[$n]=$(( $(date +%s) - START ))
    done
    if (( ${#PRECONF_PID[@]} )); then
        say "configure of ${!PRECONF_PID[*]} started in the background (niced)"
    fi
}
preconfigure_reap() {
    local n
    for n in "${!PRECONF_PID[@]}"; do wait "${PRECONF_PID[$n]}" 2>/dev/null || true; done
}
preconfigure

# ---------------------------------------------------------------------------
# 3. Run the selected rows, in table order.

for n in "${T_NAMES[@]}"; do
    want "$n" && run_row "$n"
done

# (configures started for rows that never got to use them)
preconfigure_reap

# ---------------------------------------------------------------------------
# 4. Summary.

say "summary ($(( $(date +%s) - START ))s)"
for n in "${NAMES[@]}"; do
    if (( ${R_FAIL[$n]} > 0 )); then st=FAILED; else st=ok; fi
    printf '  %-12s %-6s %5ss  PASS %3d  FAIL %3d  XFAIL %3d  SKIP %3d  (%s)\n' \
        "$n" "$st" "${R_SECS[$n]}" "${R_PASS[$n]}" "${R_FAIL[$n]}" "${R_XFAIL[$n]}" "${R_SKIP[$n]}" "${R_NOTE[$n]}"
done
echo "XFAIL: $TOT_XFAIL, SKIP: $TOT_SKIP"
echo "$TOT_PASS passed, $TOT_FAIL failed"
(( TOT_FAIL == 0 && ${#NAMES[@]} > 0 ))
