#!/usr/bin/env bash
# tests/suite.sh -- the whole axon test suite.
#
#   bash tests/suite.sh                           # everything (~10-20 min, 2 cores)
#   AX_SUITE_ONLY=default,asan bash tests/suite.sh   # a subset
#
# Configurations (each in its own out-of-tree build dir under _build/):
#   default    gcc, asm context switch            make check
#   ucontext   gcc, --with-context=ucontext       make check
#   asan       clang, --enable-asan (ASan+UBSan)  make check
#   tsan       gcc or clang (whichever runs TSan here), --enable-tsan
#   valgrind   the default build's tests under valgrind memcheck (leaks are errors)
#   install    make install of the default build, then an out-of-tree app
#              built with pkg-config, shared and fully static
#   distcheck  make distcheck of the default build
#
# On a fresh Debian 12 run as root, missing packages are installed first.
# Environment: AX_SUITE_ONLY (comma list of the names above), AX_BUILD_DIR
# (default: _build in the repo root), AX_JOBS (default: 2).
#
# The last line printed is "N passed, N failed": the automake PASS and FAIL
# (+ERROR, +XPASS) counts summed over the configurations. The install and
# distcheck steps, and a configuration that does not build, count as one
# test each. The exit status is 0 only if nothing failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${AX_BUILD_DIR:-$ROOT/_build}
JOBS=${AX_JOBS:-2}
ONLY=${AX_SUITE_ONLY:-}
ALL="default ucontext pipe asan tsan repeat valgrind aarch64 install distcheck"
PACKAGES="autoconf automake libtool pkg-config libevent-dev check valgrind gcc clang make libc6-dev curl redis-tools netcat-openbsd"
START=$(date +%s)

say() { printf '\n=== suite: %s\n' "$*"; }
# A fatal problem before any configuration ran: still end with the line CI reads.
die() { printf 'suite: error: %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 2; }

if [[ -n $ONLY ]]; then
    IFS=, read -r -a _names <<<"$ONLY"
    for _n in "${_names[@]}"; do
        [[ " $ALL " == *" $_n "* ]] || die "AX_SUITE_ONLY: unknown configuration '$_n' (known: ${ALL// /,})"
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
# 0. Packages.

install_packages() {
    local missing=() p st
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "suite: not a Debian system; assuming the build tools are installed"
        return 0
    fi
    for p in $PACKAGES; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $st == "install ok installed" ]] || missing+=("$p")
    done
    (( ${#missing[@]} == 0 )) && return 0
    local sudo=
    if (( EUID != 0 )); then
        command -v sudo >/dev/null 2>&1 ||
            die "missing packages (${missing[*]}); run as root: apt-get update && apt-get install -y ${missing[*]}"
        sudo="sudo"
    fi
    say "installing ${missing[*]}"
    if ! { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
           $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
           >"$BUILD/apt.log" 2>&1; then
        show "$BUILD/apt.log" 100
        die "apt-get install ${missing[*]} failed"
    fi
}
install_packages

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

# clang's sanitizer runtimes are a Recommends on Debian; make sure they exist.
if want asan && command -v clang >/dev/null 2>&1 &&
   ! probe clang -fsanitize=address,undefined && (( EUID == 0 )) &&
   command -v apt-get >/dev/null 2>&1; then
    _ver=$(clang -dumpversion | cut -d. -f1)
    say "installing libclang-rt-$_ver-dev (clang sanitizer runtimes)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libclang-rt-$_ver-dev" \
        >>"$BUILD/apt.log" 2>&1 || true
fi

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
declare -A R_PASS R_FAIL R_XFAIL R_SKIP R_NOTE
TOT_PASS=0 TOT_FAIL=0 TOT_XFAIL=0 TOT_SKIP=0

record() { # name pass fail xfail skip note
    NAMES+=("$1")
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
    local dir=$BUILD/$name
    rm -rf "$dir"
    mkdir -p "$dir"
    say "$name: configure $*"
    if ! (cd "$dir" && "$ROOT/configure" "$@" >configure.out 2>&1); then
        show "$dir/configure.out" 40
        record "$name" 0 1 0 0 "configure failed"
        return 1
    fi
    say "$name: make -j$JOBS"
    if ! (cd "$dir" && $wrap make -j"$JOBS" >make.out 2>&1); then
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
    say "$name: make -j$JOBS check"
    (cd "$dir" && $wrap make -j"$JOBS" check >check.out 2>&1) || rc=$?
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
    local app=$1 f flags sflags
    cd "$app" || return 1
    make -C "$DEFAULT_DIR" install >install.out 2>&1 || { cat install.out; return 1; }
    for f in include/axon.h include/axon/common.h include/axon/gather.h \
             lib/libaxon.so lib/libaxon.a lib/pkgconfig/axon.pc; do
        [[ -e $PREFIX_DIR/$f ]] || { echo "not installed: $f"; return 1; }
    done
    cp "$ROOT/examples/tutorial/03_tasks.c" app.c || return 1
    export PKG_CONFIG_PATH=$PREFIX_DIR/lib/pkgconfig
    flags=$(pkg-config --cflags --libs axon) || return 1
    echo "cc -o app app.c $flags"
    cc -o app app.c $flags || return 1
    LD_LIBRARY_PATH=$PREFIX_DIR/lib ./app >app.out 2>&1 ||
        { echo "./app failed:"; cat app.out; return 1; }
    sflags=$(pkg-config --static --cflags --libs axon) || return 1
    echo "cc -static -o app-static app.c $sflags"
    # (glibc's warnings about getaddrinfo in libevent's evutil are expected)
    cc -static -o app-static app.c $sflags >static-link.out 2>&1 ||
        { cat static-link.out; return 1; }
    if readelf -d app-static 2>/dev/null | grep -q NEEDED; then
        echo "app-static is dynamically linked"; return 1
    fi
    ./app-static >app-static.out 2>&1 ||
        { echo "./app-static failed:"; cat app-static.out; return 1; }
    echo "the installed app ran, shared and static; its output:"
    sed 's/^/  | /' app.out | head -n 20
}

# ---------------------------------------------------------------------------
# 2. The configurations.

DEFAULT_DIR=$BUILD/default
PREFIX_DIR=$BUILD/prefix
DEFAULT_OK=0
DEFAULT_ARGS=(CC=gcc --prefix="$PREFIX_DIR")
CONFIG_NOTE=

if want default; then
    CONFIG_NOTE="gcc, $(uname -m) asm"
    run_config default "" "${DEFAULT_ARGS[@]}"
elif want valgrind || want install || want distcheck; then
    # The later steps reuse the default build; build it without testing it.
    # (prepare records a failure under "default" if it does not build.)
    prepare default "" "${DEFAULT_ARGS[@]}" || true
fi
# The later steps need the default build's library, even if tests failed.
[[ -f $DEFAULT_DIR/libaxon.la && -x $DEFAULT_DIR/libtool ]] && DEFAULT_OK=1

if want ucontext; then
    CONFIG_NOTE="gcc, ucontext"
    run_config ucontext "" CC=gcc --with-context=ucontext
fi

if want pipe; then
    CONFIG_NOTE="gcc, pipe doorbell (--disable-eventfd)"
    run_config pipe "" CC=gcc --disable-eventfd
fi

if want asan; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
    CONFIG_NOTE="clang, ASan+UBSan"
    run_config asan "" CC=clang --enable-asan
fi

tsan_cc= tsan_wrap=
if want tsan; then
    # TSan needs a compiler whose runtime copes with this kernel's address
    # space layout; fall back to running with ASLR disabled (setarch -R).
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
    if [[ -z $tsan_cc ]]; then
        echo "suite: tsan: neither gcc nor clang can run a ThreadSanitizer program here"
        record tsan 0 1 0 0 "no working ThreadSanitizer"
    else
        export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
        export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-4}
        CONFIG_NOTE="$tsan_cc, TSan${tsan_wrap:+, under $tsan_wrap}"
        run_config tsan "$tsan_wrap" CC="$tsan_cc" --enable-tsan
    fi
fi

# Flakes are bugs: the cross-thread suites run 20 times in a row in the
# sanitizer builds (smaller stress sizes there), each round a test.
REPEAT_PROGS="tests/check_runtime tests/check_actor tests/check_monitor tests/check_stress"
REPEAT_TIMES=${AX_REPEAT:-20}
if want repeat; then
    for cfg in tsan asan; do
        dir=$BUILD/$cfg
        if [[ ! -x $dir/tests/check_runtime ]]; then
            echo "suite: repeat: no $cfg build (run the $cfg configuration too)"
            record "repeat-$cfg" 0 0 0 1 "no $cfg build"
            continue
        fi
        say "repeat: $REPEAT_PROGS, $REPEAT_TIMES times each, in the $cfg build"
        rp=0 rf=0
        for p in $REPEAT_PROGS; do
            ok=1
            for ((i = 1; i <= REPEAT_TIMES; i++)); do
                if ! (cd "$dir" && AX_STRESS_SCALE=20 $tsan_wrap ./"$p" >"$p.repeat.log" 2>&1); then
                    echo "suite: repeat: $p failed in round $i ($cfg)"
                    show "$dir/$p.repeat.log" 80
                    ok=0
                    break
                fi
            done
            if ((ok)); then rp=$((rp + 1)); echo "  $p: $REPEAT_TIMES/$REPEAT_TIMES"; else rf=$((rf + 1)); fi
        done
        record "repeat-$cfg" "$rp" "$rf" 0 0 "$REPEAT_TIMES rounds each"
    done
fi

if want valgrind; then
    if [[ $DEFAULT_OK != 1 ]]; then
        record valgrind 0 1 0 0 "default build unavailable"
    else
        say "valgrind: building the default build's tests"
        rc=0
        progs=$(make_var "$DEFAULT_DIR" check_PROGRAMS)
        if ! (cd "$DEFAULT_DIR" && make -j"$JOBS" $progs >valgrind-build.out 2>&1); then
            show "$DEFAULT_DIR/valgrind-build.out" 80
            record valgrind 0 1 0 0 "test programs do not build"
        else
            vg_tests=
            for p in $progs; do
                # check_overflow dies on purpose; check_ctx runs bare
                # contexts on stacks valgrind is not told about.
                [[ $p == */check_overflow || $p == */check_ctx ]] || vg_tests+="${vg_tests:+ }$p"
            done
            vg="$DEFAULT_DIR/libtool --mode=execute valgrind --error-exitcode=99"
            vg+=" --leak-check=full --errors-for-leak-kinds=definite,indirect"
            vg+=" --show-leak-kinds=definite,indirect"
            # Forked, as Check runs them everywhere else: every test starts
            # from fresh state, and valgrind checks each test's child at its
            # exit (a leak there is exit code 99, which Check reports as the
            # test's failure).  With CK_FORK=no a failed assertion inside a
            # task longjmps off the task's stack and every later test in
            # the program inherits a half-torn runtime.
            say "valgrind: make check under valgrind (forked tests): $vg_tests"
            (cd "$DEFAULT_DIR" &&
                CK_TIMEOUT_MULTIPLIER=10 AX_UNDER_VALGRIND=1 make -j"$JOBS" check \
                    TESTS="$vg_tests" LOG_COMPILER="$vg" \
                    TEST_SUITE_LOG=test-suite-valgrind.log \
                    >valgrind.out 2>&1) || rc=$?
            record_check valgrind "$rc" "$DEFAULT_DIR" \
                "$DEFAULT_DIR/test-suite-valgrind.log" "$DEFAULT_DIR/valgrind.out" \
                "default build, memcheck, check_overflow skipped"
        fi
    fi
fi

if want aarch64; then
    # The AArch64 context switch, cross-built and run under qemu-user: the
    # one back-end this x86-64 machine cannot run natively.
    say "aarch64: tests/ctx_selftest.c cross-built, run under qemu-aarch64"
    A64=$BUILD/aarch64
    mkdir -p "$A64"
    : >"$A64/config.h"
    a64_pass=0 a64_fail=0
    if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
        if ! { env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
               env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user; } >"$A64/apt.log" 2>&1; then
            show "$A64/apt.log" 40
        fi
    fi
    if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && command -v qemu-aarch64 >/dev/null 2>&1; then
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
                    a64_pass=$((a64_pass + 1)); tail -n 1 "$exe.out"
                else
                    a64_fail=$((a64_fail + 1)); show "$exe.out" 60
                fi
            done
        done
        record aarch64 "$a64_pass" "$a64_fail" 0 0 "ctx back-ends under qemu-aarch64"
    else
        echo "suite: aarch64: no cross compiler or qemu-user; skipped"
        record aarch64 0 0 0 1 "no cross toolchain"
    fi
fi

if want install; then
    if [[ $DEFAULT_OK != 1 ]]; then
        record install 0 1 0 0 "default build unavailable"
    else
        say "install: make install into $PREFIX_DIR, then build examples/tutorial/03_tasks.c with pkg-config"
        rm -rf "$PREFIX_DIR" "$BUILD/app"
        mkdir -p "$BUILD/app"
        if (install_steps "$BUILD/app") >"$BUILD/app/steps.out" 2>&1; then
            cat "$BUILD/app/steps.out"
            record install 1 0 0 0 "pkg-config shared + static"
        else
            cat "$BUILD/app/steps.out"
            echo "suite: install: FAILED (see $BUILD/app)"
            record install 0 1 0 0 "pkg-config shared + static"
        fi
    fi
fi

if want distcheck; then
    if [[ $DEFAULT_OK != 1 ]]; then
        record distcheck 0 1 0 0 "default build unavailable"
    else
        say "distcheck: make distcheck"
        if (cd "$DEFAULT_DIR" && make -j"$JOBS" distcheck >distcheck.out 2>&1); then
            grep -A1 -E '^(# (TOTAL|PASS|FAIL|ERROR):|axon-.* archives ready)' \
                "$DEFAULT_DIR/distcheck.out" | grep -v '^--$' || true
            record distcheck 1 0 0 0 "make distcheck"
        else
            show "$DEFAULT_DIR/distcheck.out" 150
            while IFS= read -r l; do show "$l" 400; done < <(
                find "$DEFAULT_DIR" -path '*/axon-*/_build/*' -name test-suite.log 2>/dev/null)
            echo "suite: distcheck: FAILED"
            record distcheck 0 1 0 0 "make distcheck"
        fi
    fi
fi

# ---------------------------------------------------------------------------
# 3. Summary.

say "summary ($(( $(date +%s) - START ))s)"
for n in "${NAMES[@]}"; do
    if (( ${R_FAIL[$n]} > 0 )); then st=FAILED; else st=ok; fi
    printf '  %-10s %-6s PASS %3d  FAIL %3d  XFAIL %3d  SKIP %3d  (%s)\n' \
        "$n" "$st" "${R_PASS[$n]}" "${R_FAIL[$n]}" "${R_XFAIL[$n]}" "${R_SKIP[$n]}" "${R_NOTE[$n]}"
done
echo "XFAIL: $TOT_XFAIL, SKIP: $TOT_SKIP"
echo "$TOT_PASS passed, $TOT_FAIL failed"
(( TOT_FAIL == 0 && ${#NAMES[@]} > 0 ))
