#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check_tutorial.sh -- docs/tutorial.md cannot rot: every code block
# in it is a file of examples/ (or a line range of one), named by the
# marker line above the block,
#
#   <!-- file: examples/tutorial/03_tasks.c lines 20-41 -->
#   ```c
#   ...exactly those lines...
#   ```
#
# and this test fails when a block differs from its file, a ```c block has
# no marker, a named file does not exist, or its program is not one that the
# build makes (and so check_examples runs). After editing an example,
# refresh the blocks from the files:
#
#   sh tests/check_tutorial.sh --update      (in the source tree)
set -eu

src=${AX_TOP_SRCDIR:-.}
build=${AX_TOP_BUILDDIR:-.}
doc=$src/docs/tutorial.md
update=0
[ "${1:-}" = --update ] && update=1

tmp=${TMPDIR:-/tmp}/axon-check-tutorial.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Rewrite the document with each marked block taken from its file; the
# differences between that and the document are the test's failures.
awk -v src="$src" -v errs="$tmp/errors" -v files="$tmp/files" '
function fail(msg) { print "docs/tutorial.md:" NR ": " msg >> errs; bad = 1 }
/^<!-- file: / {
    marker = $0; file = $3; from = 0; to = 0
    if ($4 == "lines") { split($5, r, "-"); from = r[1] + 0; to = r[2] + 0 }
    print; pending = 1; next
}
/^```c$/ {
    if (!pending) fail("a ```c block without a <!-- file: ... --> line above it")
    print
    if (pending) {
        print file >> files
        n = 0
        path = src "/" file
        while ((getline line < path) > 0) {
            n++
            if ((from == 0 || n >= from) && (to == 0 || n <= to)) print line
        }
        close(path)
        if (n == 0) fail(file ": no such file (or empty)")
        else if (to > n) fail(file ": has " n " lines, the marker asks for " from "-" to)
        skipping = 1
    }
    pending = 0; next
}
skipping && /^```$/ { skipping = 0; print; next }
skipping { next }
{ if (pending && $0 != "") pending = 0; print }
' "$doc" >"$tmp/tutorial.md"

if [ $update -eq 1 ]; then
    [ ! -s "$tmp/errors" ] || { cat "$tmp/errors"; exit 1; }
    cp "$tmp/tutorial.md" "$doc"
    echo "check_tutorial: $doc refreshed from $(sort -u "$tmp/files" | grep -c .) files"
    exit 0
fi

status=0
if [ -s "$tmp/errors" ]; then cat "$tmp/errors"; status=1; fi
if ! diff -u "$doc" "$tmp/tutorial.md" >"$tmp/diff"; then
    echo "check_tutorial: code blocks differ from the files they name"
    echo "check_tutorial: (sh tests/check_tutorial.sh --update refreshes them):"
    cat "$tmp/diff"
    status=1
fi
# Each named file is a program the build makes: examples/x/y.c -> x/y.
for f in $(sort -u "$tmp/files"); do
    prog=${f%.c}
    if ! grep -q "^[[:space:]]*$prog\( \\\\\)\{0,1\}\$" "$src/Makefile.am"; then
        echo "check_tutorial: $f: $prog is not in EXAMPLE_PROGS (Makefile.am)"
        status=1
    elif [ ! -x "$build/$prog" ]; then
        if [ "${AX_HAVE_ACTORS:-1}" = 0 ] && grep -q 'axon/actor.h\|ax_actor\|ax_sup_\|ax_gs_' "$src/$f"; then
            echo "check_tutorial: $f: not built without the actor layer"
        else
            echo "check_tutorial: $f: $build/$prog was not built"
            status=1
        fi
    fi
done
[ $status -ne 0 ] ||
    echo "check_tutorial: $(grep -c '^```c$' "$doc") code blocks match $(sort -u "$tmp/files" | grep -c .) example files, all built"
exit $status
