#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/run.sh -- the fuzz targets in `make check`.
#
# Every build: the corpus (seeds, and every input that once crashed a
# target) is replayed through tests/fuzz/<t>_regress, the target linked
# with a plain driver (tests/fuzz/driver.c). Builds configured with
# --enable-fuzz (or --enable-asan with a clang that has libFuzzer) also run
# each libFuzzer target for AX_FUZZ_SECONDS (default 20) from a copy of the
# corpus, and print the executions done. A crash fails the run and names
# the input: copy it into tests/fuzz/corpus/<t>/ to keep it as a
# regression case. By hand, longer:
#
#   AX_FUZZ_SECONDS=3600 AX_TOP_BUILDDIR=B AX_TOP_SRCDIR=. bash tests/fuzz/run.sh
#
# Exit status: 0 passed, 1 failed, 77 nothing built.
set -u
B=${AX_TOP_BUILDDIR:-.}
S=${AX_TOP_SRCDIR:-.}
SECS=${AX_FUZZ_SECONDS:-20}
rc=0
ran=0
for t in resp http; do
    reg=$B/tests/fuzz/${t}_regress
    if [ ! -x "$reg" ]; then
        echo "SKIP: fuzz $t: $reg not built"
        continue
    fi
    ran=1
    if out=$("$reg" "$S/tests/fuzz/corpus/$t" 2>&1); then
        echo "PASS: fuzz $t: corpus replayed ($out)"
    else
        echo "FAIL: fuzz $t: a corpus input fails:"
        printf '%s\n' "$out" | tail -n 30
        rc=1
    fi
    fz=$B/tests/fuzz/fuzz_$t
    if [ ! -x "$fz" ]; then
        echo "SKIP: fuzz $t: libFuzzer target not built (configure --enable-fuzz with clang)"
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/ax-fuzz.XXXXXX") || exit 1
    mkdir "$work/corpus"
    cp "$S/tests/fuzz/corpus/$t"/* "$work/corpus/"
    "$fz" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
    frc=$?
    execs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -n 1)
    if [ $frc -eq 0 ]; then
        echo "PASS: fuzz $t: ${SECS} s, ${execs:-? runs}"
    else
        echo "FAIL: fuzz $t (exit $frc):"
        grep -E 'ERROR|SUMMARY|Assertion|Test unit written' "$work/log" | head -n 10
        for a in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
            [ -e "$a" ] || continue
            mkdir -p "$B/tests/fuzz/crashes"
            cp "$a" "$B/tests/fuzz/crashes/"
            echo "  input kept: $B/tests/fuzz/crashes/$(basename "$a") (add it to tests/fuzz/corpus/$t/)"
        done
        rc=1
    fi
    rm -rf "$work"
done
[ $ran = 1 ] || exit 77
exit $rc
