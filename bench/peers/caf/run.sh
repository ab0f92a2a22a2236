#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one workload of the CAF peer: run.sh BUILDDIR WORKLOAD [--quick]
# Worker threads: 1 for pingpong_same, 2 for pingpong_cross, CAF's default
# (one per CPU) otherwise. ctxswitch is not done: it prints "unknown
# workload ctxswitch: ..." and exits 2, like any workload it lacks.
bin=${1:?usage: run.sh BUILDDIR WORKLOAD [--quick]}/axbench-caf
w=${2:?usage: run.sh BUILDDIR WORKLOAD [--quick]}
shift 2
[ -x "$bin" ] || { echo "no $bin: run build.sh first"; exit 1; }
exec "$bin" "$w" "$@"
