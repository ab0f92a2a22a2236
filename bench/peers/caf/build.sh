#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the CAF peer into $1 (bench/peers/caf/README.md).
set -e
out=${1:?usage: build.sh OUTDIR}
CXX=${CXX:-g++}
command -v "$CXX" >/dev/null 2>&1 || { echo "$CXX not found (apt-get install g++)"; exit 1; }
[ -f /usr/include/caf/all.hpp ] || { echo "CAF headers not found (apt-get install libcaf-dev)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
$CXX -std=c++17 -O2 -DNDEBUG -o "$out/axbench-caf" "$here/axbench.cpp" \
    -lcaf_core -lpthread 2>"$out/build.log" ||
    { echo "compiling axbench.cpp failed (see $out/build.log)"; exit 1; }
{ dpkg-query -W -f='libcaf-dev ${Version}\n' libcaf-dev 2>/dev/null || echo "libcaf-dev ?"; $CXX --version | head -1; } > "$out/VERSION"
