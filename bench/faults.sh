#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/faults.sh -- kv-server's good clients with and without a bad crowd.
#
#   bash bench/faults.sh BUILD_DIR [IDLE]
#
# Starts BUILD_DIR/examples/servers/kv-server (--loops 2) on a free port
# and runs `redis-benchmark -t set,get -n 100000 -c 20 --csv` twice: alone,
# then while `tests/srvclient faults` holds IDLE (default 1000) idle
# connections and keeps sending garbage, resetting and stalling mid-request.
# Prints requests per second and p50/p99 latency for both runs, and the
# good clients' success rate (requests completed / requested). Figures,
# not pass/fail (tests/e2e-hard.sh asserts the answers are right). On a
# shared machine compare the two rows of one run only.
set -u
B=${1:?usage: bench/faults.sh BUILD_DIR [IDLE]}
IDLE=${2:-1000}
N=100000
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found"; exit 1; }
TMP=$(mktemp -d)
SPID=""
FPID=""
trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; [ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$TMP"' EXIT
ulimit -n $((2 * IDLE + 1000)) 2>/dev/null || true
"$B/examples/servers/kv-server" --port 0 --loops 2 >"$TMP/out" 2>"$TMP/err" &
SPID=$!
for _ in $(seq 1 100); do [ -s "$TMP/out" ] && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*://p' "$TMP/out")
[ -n "$PORT" ] || { echo "kv-server did not start"; cat "$TMP/err"; exit 1; }

run() {
    local label=$1 csv done_n
    csv=$(redis-benchmark -p "$PORT" -t set,get -n $N -c 20 --csv 2>/dev/null)
    printf '%s\n' "$csv" | tail -n +2 | while IFS=, read -r test rps avg min p50 p95 p99 max; do
        done_n=$N
        [ -n "$rps" ] || done_n=0
        printf '%-14s %-5s %10s %8s %8s %8s   %s\n' "$label" "$(eval echo $test)" \
            "$(eval echo $rps)" "$(eval echo $p50)" "$(eval echo $p99)" "$(eval echo $max)" \
            "$((done_n * 100 / N))%"
    done
}

printf '%-14s %-5s %10s %8s %8s %8s   %s\n' run test req/s p50_ms p99_ms max_ms completed
run "alone"
"$B/tests/srvclient" faults 127.0.0.1 "$PORT" "$IDLE" >"$TMP/faults" 2>&1 &
FPID=$!
for _ in $(seq 1 300); do grep -q held "$TMP/faults" && break; sleep 0.1; done
run "with faults"
kill -TERM $FPID
wait $FPID
FPID=""
echo "bad crowd: $(tail -n 1 "$TMP/faults" | sed 's/^srvclient: //')"
kill -TERM $SPID
wait $SPID
echo "kv-server exit: $?"
SPID=""
