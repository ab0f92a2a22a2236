#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/check_doc.sh -- every function libaxon.so exports has an entry in
# the API reference: doxygen (docs/Doxyfile, the build's installed headers)
# is run into a scratch directory for XML only, and each ax_ name of
# `nm -D libaxon.so` must be a documented member there (doxygen leaves
# undocumented members out, EXTRACT_ALL = NO). Also fails on a public
# macro, type or enumerator doxygen calls undocumented. Skipped (exit 77)
# without doxygen (bash tests/install-deps.sh pkg) or without a shared
# library.
set -eu

top=${AX_TOP_BUILDDIR:-.}
so=$top/.libs/libaxon.so
if ! command -v doxygen >/dev/null 2>&1; then
    echo "SKIP: check_doc: no doxygen (apt-get install doxygen)"; exit 77
fi
if [ ! -f "$so" ]; then
    echo "SKIP: check_doc: no shared library ($so)"; exit 77
fi
if [ ! -f "$top/docs/Doxyfile" ]; then
    (cd "$top" && ${MAKE:-make} docs/Doxyfile) || exit 1
fi

tmp=${TMPDIR:-/tmp}/axon-check-doc.$$
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
{
    cat "$top/docs/Doxyfile"
    echo "OUTPUT_DIRECTORY = $tmp"
    echo "WARN_LOGFILE = $tmp/warnings.log"
    echo "GENERATE_HTML = NO"
    echo "GENERATE_MAN = NO"
} | doxygen - >"$tmp/doxygen.out" 2>&1 || { cat "$tmp/doxygen.out"; exit 1; }

${NM:-nm} -D --defined-only "$so" |
    awk 'NF >= 3 && $(NF-1) ~ /^[A-Za-z]$/ && $NF ~ /^ax_/ { print $NF }' |
    sort -u >"$tmp/exported"
# <member refid="..." kind="function"><name>ax_spawn</name></member>
sed -n 's#.*<member refid="[^"]*" kind="\(function\|variable\)"><name>\(ax_[A-Za-z0-9_]*\)</name>.*#\2#p' \
    "$tmp/xml/index.xml" | sort -u >"$tmp/documented"
missing=$(comm -23 "$tmp/exported" "$tmp/documented")
status=0
if [ -n "$missing" ]; then
    echo "check_doc: exported by libaxon.so but without an entry in the API"
    echo "check_doc: reference (give each a /** ... */ comment in its header):"
    printf '  %s\n' $missing
    status=1
fi
# Macros, types and enumerators of the public headers doxygen found
# undocumented ("Member AX_FOO (macro definition) of file x.h is not documented.").
undoc=$(grep 'is not documented' "$tmp/warnings.log" | grep -E 'Member (ax_|AX_|AXON_)[^_]' || true)
if [ -n "$undoc" ]; then
    echo "check_doc: public names without documentation:"
    printf '%s\n' "$undoc" | sed 's/^/  /'
    status=1
fi
[ $status -ne 0 ] || echo "check_doc: all $(grep -c . "$tmp/exported") exported functions are documented"
exit $status
