#!/bin/sh
# SPDX-License-Identifier: MIT
# Run one workload of the Erlang peer: run.sh BUILDDIR WORKLOAD [--quick]
# Schedulers: +S 1:1 for ctxswitch, pingpong_same and the restart pair
# (one scheduler thread), +S 2:2 for pingpong_cross, the VM's default (one per CPU)
# otherwise.
dir=${1:?usage: run.sh BUILDDIR WORKLOAD [--quick]}
w=${2:?usage: run.sh BUILDDIR WORKLOAD [--quick]}
shift 2
[ -f "$dir/axbench.beam" ] || { echo "no $dir/axbench.beam: run build.sh first"; exit 1; }
case $w in
ctxswitch|pingpong_same|sup_restart_latency|sup_restarts_per_s) sopt="+S 1:1" ;;
pingpong_cross) sopt="+S 2:2" ;;
spawn_join|parked_memory|ring|skynet|skynet_dfs|gather_fanout|fanin) sopt="" ;;
*) echo "unknown workload $w"; exit 2 ;;
esac
# erl takes a word beginning with '-' after -run for one of its own flags:
# pass --quick as the word "quick".
args=
for a in "$@"; do
    case $a in
    --quick) args="$args quick" ;;
    *) echo "unknown argument $a"; exit 2 ;;
    esac
done
# +P: room for skynet's 1,111,111 processes (default limit 1,048,576)
exec erl -noshell -noinput +P 4000000 $sopt -pa "$dir" -run axbench main "$w" $args
