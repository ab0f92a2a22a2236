#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Go peers of bench/idle.sh (net/http hello, chat) into $1:
# standard library only, GOPATH mode, nothing fetched from the network.
set -e
out=${1:?usage: build.sh OUTDIR}
command -v go >/dev/null 2>&1 || { echo "go not found (apt-get install golang-go)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
export GO111MODULE=off GOFLAGS=
export GOCACHE="${GOCACHE:-$out/.gocache}"
go build -trimpath -o "$out/axbench-go-http" main.go || { echo "go build failed"; exit 1; }
go version > "$out/VERSION"
