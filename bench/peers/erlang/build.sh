#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Erlang peer into $1 (bench/peers/erlang/README.md).
set -e
out=${1:?usage: build.sh OUTDIR}
command -v erlc >/dev/null 2>&1 && command -v erl >/dev/null 2>&1 ||
    { echo "erlc/erl not found (apt-get install erlang-base)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
erlc +warn_unused_vars -o "$out" "$here/axbench.erl" || { echo "erlc failed"; exit 1; }
erl -noshell -eval 'io:format("OTP ~s, ERTS ~s~n", [erlang:system_info(otp_release), erlang:system_info(version)]), halt().' > "$out/VERSION"
