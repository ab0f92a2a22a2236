#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one workload of the Go peer: run.sh BUILDDIR WORKLOAD [--quick]
# The binary runs twice: GOMAXPROCS=1 (system go-gomaxprocs1) and the
# default GOMAXPROCS (system go). pingpong_cross runs only with the default
# (with one P there is no second thread to cross to), and so does
# queue_cross; queue_same runs only with GOMAXPROCS=1 (one loop).
bin=${1:?usage: run.sh BUILDDIR WORKLOAD [--quick]}/axbench-go
w=${2:?usage: run.sh BUILDDIR WORKLOAD [--quick]}
shift 2
[ -x "$bin" ] || { echo "no $bin: run build.sh first"; exit 1; }
case $w in
ctxswitch|spawn_join|parked_memory|pingpong_same|pingpong_cross|ring|skynet|skynet_dfs|gather_fanout|fanin|\
queue_same|queue_cross|select|lock_uncontended|lock_handoff|udp_echo|to_thread) ;;
*) echo "unknown workload $w"; exit 2 ;;
esac
rc=0
# Across threads only with the default GOMAXPROCS; queue_same is the
# one-thread form only (one P, as axon's one loop).
case $w in
pingpong_cross|queue_cross|udp_echo|to_thread) ;;  # GOMAXPROCS>1 only
*) env GOMAXPROCS=1 "$bin" "$w" "$@" || rc=1 ;;
esac
case $w in
queue_same) ;;
*) env -u GOMAXPROCS "$bin" "$w" "$@" || rc=1 ;;
esac
exit $rc
