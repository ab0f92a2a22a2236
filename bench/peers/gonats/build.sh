#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the Go NATS peer of bench/nats_ask into $1 against Debian's
# packaged client (golang-github-nats-io-go-nats-dev, under
# /usr/share/gocode): GOPATH mode, nothing fetched from the network.
set -e
out=${1:?usage: build.sh OUTDIR}
command -v go >/dev/null 2>&1 || { echo "go not found (apt-get install golang-go)"; exit 1; }
[ -d /usr/share/gocode/src/github.com/nats-io/nats.go ] ||
    { echo "no Go NATS client (apt-get install golang-github-nats-io-go-nats-dev)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$here"
export GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS=
export GOCACHE="${GOCACHE:-$out/.gocache}"
go build -trimpath -o "$out/axbench-go-nats" main.go || { echo "go build failed"; exit 1; }
go version > "$out/VERSION"
