#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the Go NATS peer: run.sh BUILDDIR nats_ask [--quick]. It starts its
# own nats-server (bench/nats_ask runs it against the server it uses).
bin=${1:?usage: run.sh BUILDDIR WORKLOAD [--quick]}/axbench-go-nats
w=${2:?usage: run.sh BUILDDIR WORKLOAD [--quick]}
[ -x "$bin" ] || { echo "no $bin: run build.sh first"; exit 1; }
case $w in
nats_ask) ;;
*) echo "unknown workload $w"; exit 2 ;;
esac
if [ "$3" = --quick ]; then exec "$bin" - 5000; fi
exec "$bin" -
