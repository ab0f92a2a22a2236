#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Go peer into $1 (bench/peers/go/README.md).
set -e
out=${1:?usage: build.sh OUTDIR}
command -v go >/dev/null 2>&1 || { echo "go not found (apt-get install golang-go)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
export GOFLAGS=-mod=mod GO111MODULE=on
export GOCACHE="${GOCACHE:-$out/.gocache}"
go build -trimpath -o "$out/axbench-go" . || { echo "go build failed"; exit 1; }
go version > "$out/VERSION"
