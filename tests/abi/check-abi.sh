#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/abi/check-abi.sh -- the public API against its checked-in record,
# tests/abi/axon.abi: one line per AX_EXTERN function, "header: prototype",
# as gcc's -aux-info prints it (parameter names dropped, typedef names kept).
#
#   check-abi.sh check LIST HEADER...    (make check-abi, part of make check)
#   check-abi.sh update LIST HEADER...   (make update-abi)
#
# check fails when a recorded function is gone or its prototype changed:
# programs built against the old headers would break. A new function only
# prints a note saying how to record it (make update-abi, then commit
# tests/abi/axon.abi): additions are compatible. Lines whose header is not
# in this build (the actor headers under --disable-actors) are left alone,
# and update keeps them.
#
# Environment: AX_ABI_CC (a compiler with -aux-info: gcc; clang has none,
# and then gcc is tried, else the check is skipped), AX_ABI_CPPFLAGS (the
# -I flags for the headers), AX_ABI_SRCDIR (where HEADER paths start).
set -eu

mode=$1 list=$2
shift 2
srcdir=${AX_ABI_SRCDIR:-.}
tmp=${TMPDIR:-/tmp}/axon-abi.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# The headers as #include names (axon.h, axon/task.h), one per line.
: >"$tmp/names"
for h in "$@"; do
    echo "${h#*include/}" >>"$tmp/names"
done
sed 's/.*/#include <&>/' "$tmp/names" >"$tmp/all.c"

ok=
for cc in ${AX_ABI_CC:-gcc} gcc; do
    if $cc -std=c11 ${AX_ABI_CPPFLAGS:-} -aux-info "$tmp/aux" -fsyntax-only \
        "$tmp/all.c" >"$tmp/cc.out" 2>&1; then
        ok=1; break
    fi
done
if [ -z "$ok" ]; then
    cat "$tmp/cc.out"
    echo "check-abi: skipped: no compiler with -aux-info (gcc) could read the headers"
    exit 0
fi

# "/* /path/include/axon/task.h:45:NC */ extern int ax_spawn (...);"
#   -> "axon/task.h: int ax_spawn (...);"
sed -n 's|^/\* .*/include/\([^:]*\):[0-9]*:[A-Z]* \*/ extern \(.*[^A-Za-z0-9_]ax_[A-Za-z0-9_]* (.*\)$|\1: \2|p' \
    "$tmp/aux" | LC_ALL=C sort -u >"$tmp/now"

# The record's lines for the headers of this build.
touch "$list"
awk -F': ' 'NR == FNR { have[$0] = 1; next } ($1 in have)' \
    "$tmp/names" "$list" | LC_ALL=C sort -u >"$tmp/want"

name() { sed 's/ (.*//; s/.*[^A-Za-z0-9_]//'; }

if [ "$mode" = update ]; then
    awk -F': ' 'NR == FNR { have[$0] = 1; next } !($1 in have)' \
        "$tmp/names" "$list" >"$tmp/keep"
    cat "$tmp/keep" "$tmp/now" | LC_ALL=C sort -u >"$list"
    echo "check-abi: $list now records $(grep -c . "$list") functions"
    exit 0
fi

LC_ALL=C comm -23 "$tmp/want" "$tmp/now" >"$tmp/gone"
LC_ALL=C comm -13 "$tmp/want" "$tmp/now" >"$tmp/new"
status=0
if [ -s "$tmp/gone" ]; then
    name <"$tmp/new" | LC_ALL=C sort -u >"$tmp/newnames"
    echo "check-abi: INCOMPATIBLE change to the public API (programs built"
    echo "check-abi: against the recorded headers would break):"
    while IFS= read -r l; do
        n=$(printf '%s\n' "$l" | name)
        if grep -qx "$n" "$tmp/newnames"; then
            echo "  changed: $l"
            echo "       now: $(grep "[^A-Za-z0-9_]$n (" "$tmp/new" | head -n 1)"
        else
            echo "  removed: $l"
        fi
    done <"$tmp/gone"
    echo "check-abi: if the break is intended, bump the library's -version-info"
    echo "check-abi: (current) in Makefile.am, run 'make update-abi' and commit"
    echo "check-abi: tests/abi/axon.abi with the reason in the commit message."
    status=1
fi
# A changed function was reported above; the rest of "new" is additions.
name <"$tmp/gone" | LC_ALL=C sort -u >"$tmp/gonenames"
while IFS= read -r l; do
    grep -qx "$(printf '%s\n' "$l" | name)" "$tmp/gonenames" || printf '%s\n' "$l"
done <"$tmp/new" >"$tmp/added"
if [ -s "$tmp/added" ]; then
    n=$(grep -c . "$tmp/added")
    echo "check-abi: note: $n function(s) not yet recorded in tests/abi/axon.abi"
    echo "check-abi: (compatible additions; record them: 'make update-abi' in a"
    echo "check-abi: build directory, then commit tests/abi/axon.abi):"
    sed 's/^/  new: /' "$tmp/added"
fi
[ $status -ne 0 ] ||
    echo "check-abi: the $(grep -c . "$tmp/want") recorded functions are unchanged"
exit $status
