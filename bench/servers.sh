#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/servers.sh -- axon's example servers against their usual peers.
#
# Usage:
#   bash bench/servers.sh [BUILD_DIR]
#   bash bench/servers.sh --pinned [--base BASE_BUILD_DIR] [BUILD_DIR]
#
#   BUILD_DIR   an axon build directory with examples/ built (`make`);
#               default: the current directory if it has
#               examples/servers/http-hello, else ./_build/default.
#   --pinned    instead of the tables below, requests per core: each
#               server alone on CPU 0 (taskset), the load generator on
#               CPU 1, with the system calls per request (see "Pinned").
#   --base DIR  with --pinned: a second axon build (say, before a change)
#               measured in the same run, as its own column.
#
# Environment:
#   BENCH_DURATION   wrk duration per run (default 5s)
#   BENCH_N          redis-benchmark requests per run (default 1000000;
#                    e.g. BENCH_N=100000 for a quick run)
#   BENCH_WARMUP     seconds of wrk warm-up before each HTTP server (1)
#   BENCH_NO_INSTALL set to 1 to never call apt-get
#   BENCH_SERVER_CPU, BENCH_LOAD_CPU   --pinned: the CPUs (0 and 1)
#   BENCH_STRACE_N   --pinned: redis-benchmark requests under strace (20000)
#
# Pinned (--pinned): http-hello --loops 1 and nginx (master_process off:
# one process, the worker) under `wrk -t1 -c64 --latency`; kv-server
# --loops 1 and redis-server under `redis-benchmark -t set,get -c 50` with
# -P 1 and -P 16. For each: requests/s and p99 (wrk) without any tracer;
# then system calls per request, counted by the kernel's
# raw_syscalls:sys_enter tracepoint (`perf stat -p`, cheap enough not to
# change the batching) over a second run of the same load; then, when
# strace exists, `strace -c -f -p` over a third, shorter run, printed as
# calls per request of each system call (strace slows the server several
# times, so its epoll_wait figure is lower than untraced; the reads and
# writes per request are what to compare). The system call counts are
# stable on a shared machine; requests/s are not.
#
# What it does (builds nothing of axon):
#  - as root on a Debian-like system, installs the peers that are missing
#    with apt-get: wrk, nginx-light (or nginx), redis-server, redis-tools,
#    curl;
#  - compiles bench/evhttp_hello.c (libevent's evhttp hello world) into a
#    temporary directory with `cc ... $(pkg-config --cflags --libs libevent)`;
#  - starts each server in turn on 127.0.0.1 (only there), drives it, stops
#    it:
#      HTTP: http-hello --loops 1, http-hello --loops 2, evhttp_hello (one
#            thread), nginx (2 workers, `return 200 "Hello, World!"`,
#            access_log off, a config in a temporary directory), each under
#            `wrk -t1 -c64 -d5s` and `wrk -t1 -c256 -d5s`;
#      KV:   kv-server --loops 1, kv-server --loops 2, redis-server
#            (--save '' --appendonly no), each under
#            `redis-benchmark -t set,get -n N -c 50 -P 1` and `-P 16`;
#  - prints one table: requests/s per server side by side, and in
#    parentheses the ratio to the axon server marked with * (http-hello
#    --loops 2, kv-server --loops 2): above 1.00 the peer is faster.
#
# A peer that is missing (and cannot be installed) is shown as "n/a".
# Every run is bounded by `timeout`; every server started here is killed
# on exit (trap). Numbers depend on the machine: wrk and redis-benchmark
# share the CPUs with the server (use a machine with >= 4 cores for
# meaningful multi-loop numbers).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
DURATION=${BENCH_DURATION:-5s}
NREQ=${BENCH_N:-1000000}
WARMUP=${BENCH_WARMUP:-1}
HOST=127.0.0.1

PINNED=0
BASE=""
while [ $# -ge 1 ]; do
    case $1 in
    --pinned) PINNED=1; shift ;;
    --base)
        [ $# -ge 2 ] || { echo "servers.sh: --base needs a directory" >&2; exit 2; }
        BASE=$(cd "$2" 2>/dev/null && pwd) || {
            echo "servers.sh: no build directory '$2'" >&2
            exit 2
        }
        shift 2
        ;;
    *) break ;;
    esac
done

if [ $# -ge 1 ]; then
    BUILD=$1
elif [ -x ./examples/servers/http-hello ] || [ -x ./examples/servers/kv-server ]; then
    BUILD=.
else
    BUILD=./_build/default
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || {
    echo "servers.sh: no build directory '$1' (see the usage at the top)" >&2
    exit 2
}
EX=$BUILD/examples/servers
if [ ! -x "$EX/http-hello" ] && [ ! -x "$EX/kv-server" ]; then
    echo "servers.sh: $EX has neither http-hello nor kv-server; run make" >&2
    exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ax-bench.XXXXXX") || exit 1
PIDS=""
cleanup() {
    local p
    for p in $PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    sleep 0.2
    for p in $PIDS; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "servers.sh: interrupted" >&2; exit 1' INT TERM HUP

have() { command -v "$1" >/dev/null 2>&1; }
say() { echo "== $*" >&2; }

# ---------------------------------------------------------------------------
# Peers

install_missing() {
    local pkgs="" ng
    [ "${BENCH_NO_INSTALL:-0}" = 1 ] && return 0
    [ "$(id -u)" = 0 ] && have apt-get || return 0
    have wrk || pkgs="$pkgs wrk"
    have redis-server || pkgs="$pkgs redis-server"
    have redis-benchmark || pkgs="$pkgs redis-tools"
    have curl || pkgs="$pkgs curl"
    if ! have nginx && [ ! -x /usr/sbin/nginx ]; then
        ng=nginx-light
        apt-cache show nginx-light >/dev/null 2>&1 || ng=nginx
        pkgs="$pkgs $ng"
    fi
    [ -n "$pkgs" ] || return 0
    say "installing:$pkgs"
    timeout 600 apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q \
        --no-install-recommends $pkgs >&2 || say "apt-get install failed"
    # Debian starts the services it installs: stop them, they are not ours.
    for svc in nginx redis-server; do
        if have systemctl; then
            systemctl stop "$svc" >/dev/null 2>&1 || true
        fi
        if have service; then
            service "$svc" stop >/dev/null 2>&1 || true
        fi
    done
}
install_missing

NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })

EVHTTP=""
if have cc && have pkg-config && pkg-config --exists libevent; then
    # shellcheck disable=SC2046
    if cc -O2 -o "$TMP/evhttp_hello" "$HERE/evhttp_hello.c" \
        $(pkg-config --cflags --libs libevent) >"$TMP/evhttp.log" 2>&1; then
        EVHTTP=$TMP/evhttp_hello
    else
        say "evhttp_hello does not compile:"
        cat "$TMP/evhttp.log" >&2
    fi
else
    say "no cc or libevent (pkg-config): evhttp_hello skipped"
fi

# ---------------------------------------------------------------------------
# Server lifecycle

SPID=""
PORT=""

# A port nobody listens on (probed with bash's /dev/tcp).
free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

wait_port() {
    local i=0
    while [ $i -lt 100 ]; do
        (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null && return 0
        kill -0 "$SPID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# start_listening NAME CMD...: a server that prints "listening on H:P".
start_listening() {
    local name=$1 i=0 line=""
    shift
    : >"$TMP/$name.out"
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS="$PIDS $SPID"
    while [ $i -lt 100 ]; do
        if [ "$(wc -l <"$TMP/$name.out")" -ge 1 ]; then
            line=$(head -n 1 "$TMP/$name.out")
            break
        fi
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    case $line in
    "listening on "*:*) PORT=${line##*:}; return 0 ;;
    esac
    say "$name did not start: '$line'"
    head -n 20 "$TMP/$name.err" >&2
    stop_server
    return 1
}

# start_port NAME PORT CMD...: a server told its port; wait until it listens.
start_port() {
    local name=$1
    PORT=$2
    shift 2
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SPID=$!
    PIDS="$PIDS $SPID"
    if wait_port "$PORT"; then
        return 0
    fi
    say "$name did not start"
    head -n 20 "$TMP/$name.err" >&2
    stop_server
    return 1
}

stop_server() {
    local i=0
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    while [ $i -lt 50 ] && kill -0 "$SPID" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

# ---------------------------------------------------------------------------
# Load generators: print requests/s, or n/a.

wrk_rps() {
    local conns=$1 out secs
    secs=${DURATION%s}
    out=$(timeout $((secs + 30)) wrk -t1 -c"$conns" -d"$DURATION" \
        "http://$HOST:$PORT/" 2>&1)
    printf '%s\n' "$out" >>"$TMP/wrk.log"
    printf '%s\n' "$out" | awk '/^Requests\/sec:/ { printf "%d", $2; f = 1 }
        END { if (!f) printf "n/a" }'
}

wrk_warmup() {
    [ "$WARMUP" -gt 0 ] 2>/dev/null || return 0
    timeout $((WARMUP + 20)) wrk -t1 -c64 -d"${WARMUP}s" \
        "http://$HOST:$PORT/" >/dev/null 2>&1
}

# rb_rps P: sets RB_SET and RB_GET.
rb_rps() {
    local out
    out=$(timeout 600 redis-benchmark -h "$HOST" -p "$PORT" -t set,get \
        -n "$NREQ" -c 50 -P "$1" -q 2>&1 | tr '\r' '\n')
    printf '%s\n' "$out" >>"$TMP/rb.log"
    # the summary lines, not the "SET: rps=..." progress lines
    RB_SET=$(printf '%s\n' "$out" | awk '
        /^SET: [0-9.]+ requests per second/ { v = $2 } END { if (v != "") printf "%d", v }')
    RB_GET=$(printf '%s\n' "$out" | awk '
        /^GET: [0-9.]+ requests per second/ { v = $2 } END { if (v != "") printf "%d", v }')
    [ -n "$RB_SET" ] || RB_SET=n/a
    [ -n "$RB_GET" ] || RB_GET=n/a
}

# The results: R[row,col] = requests/s.
declare -A R

# ---------------------------------------------------------------------------
# Pinned: requests per core and system calls per request (--pinned)

SCPU=${BENCH_SERVER_CPU:-0}
LCPU=${BENCH_LOAD_CPU:-1}
STRACE_N=${BENCH_STRACE_N:-20000}

PERF_OK=0
if have perf && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null \
    -- true >/dev/null 2>&1; then
    PERF_OK=1
fi

# count_start / count_stop: the system calls the server makes meanwhile.
CPID=""
count_start() {
    CPID=""
    [ "$PERF_OK" = 1 ] || return 0
    perf stat -e raw_syscalls:sys_enter -x, -o "$TMP/perf.out" \
        -p "$SPID" >/dev/null 2>&1 &
    CPID=$!
    PIDS="$PIDS $CPID"
    sleep 0.5
}
count_stop() { # prints the count, or n/a
    [ -n "$CPID" ] || { printf 'n/a'; return 0; }
    kill -INT "$CPID" 2>/dev/null
    wait "$CPID" 2>/dev/null
    CPID=""
    awk -F, '/raw_syscalls:sys_enter/ && $1 ~ /^[0-9]+$/ { printf "%d", $1; f = 1 }
        END { if (!f) printf "n/a" }' "$TMP/perf.out"
}

# strace_start / strace_stop REQUESTS: "name calls/request, ..." of the
# most frequent system calls.
STPID=""
strace_start() {
    STPID=""
    have strace || return 0
    strace -c -f -p "$SPID" -o "$TMP/strace.out" >/dev/null 2>&1 &
    STPID=$!
    PIDS="$PIDS $STPID"
    sleep 0.5
}
strace_stop() {
    [ -n "$STPID" ] || { printf 'n/a (no strace)'; return 0; }
    kill -INT "$STPID" 2>/dev/null
    wait "$STPID" 2>/dev/null
    STPID=""
    awk -v n="$1" '
        /^-/ || /^%/ || /total$/ { next }
        NF >= 5 && $4 ~ /^[0-9]+$/ { c[$NF] = $4 }
        END {
            if (n <= 0) { printf "n/a"; exit }
            k = 0
            for (s in c) if (c[s] / n >= 0.005) { name[k] = s; k++ }
            # by calls, most first
            for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
                if (c[name[j]] > c[name[i]]) { t = name[i]; name[i] = name[j]; name[j] = t }
            for (i = 0; i < k; i++)
                printf "%s%s %.2f", i ? ", " : "", name[i], c[name[i]] / n
        }' "$TMP/strace.out"
}

per_req() { # count requests
    case "$1$2" in
    *[!0-9]* | '') printf 'n/a' ;;
    *) awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", c / n; else printf "n/a" }' ;;
    esac
}

# wrk on the load CPU: sets W_RPS, W_P99, W_N (requests).
wrk_pinned() { # duration
    local out secs=${1%s}
    out=$(timeout $((secs + 30)) taskset -c "$LCPU" wrk -t1 -c64 -d"$1" \
        --latency "http://$HOST:$PORT/" 2>&1)
    printf '%s\n' "$out" >>"$TMP/wrk.log"
    W_RPS=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { printf "%d", $2 }')
    W_P99=$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')
    W_N=$(printf '%s\n' "$out" | awk '/requests in/ { print $1 }')
    [ -n "$W_RPS" ] || W_RPS=n/a
    [ -n "$W_P99" ] || W_P99=n/a
    [ -n "$W_N" ] || W_N=0
}

# redis-benchmark on the load CPU: sets B_SET, B_GET (requests/s), B_P99
# (GET's p99 in ms).
rb_pinned() { # n pipeline
    local out
    out=$(timeout 600 taskset -c "$LCPU" redis-benchmark -h "$HOST" \
        -p "$PORT" -t set,get -n "$1" -c 50 -P "$2" --csv 2>&1)
    printf '%s\n' "$out" >>"$TMP/rb.log"
    B_SET=$(printf '%s\n' "$out" | awk -F'"' '$2 == "SET" { printf "%d", $4 }')
    B_GET=$(printf '%s\n' "$out" | awk -F'"' '$2 == "GET" { printf "%d", $4 }')
    B_P99=$(printf '%s\n' "$out" | awk -F'"' '$2 == "GET" { print $14 "ms" }')
    [ -n "$B_SET" ] || B_SET=n/a
    [ -n "$B_GET" ] || B_GET=n/a
    [ -n "$B_P99" ] || B_P99=n/a
}

PLINES=()
prow() { PLINES+=("$(printf "$@")"); }

http_pinned() { # label
    local c
    timeout 30 taskset -c "$LCPU" wrk -t1 -c64 -d"${WARMUP}s" \
        "http://$HOST:$PORT/" >/dev/null 2>&1
    wrk_pinned "$DURATION"
    local rps=$W_RPS p99=$W_P99
    count_start
    wrk_pinned "$DURATION"
    c=$(count_stop)
    local spr
    spr=$(per_req "$c" "$W_N")
    strace_start
    wrk_pinned 2s
    local st
    st=$(strace_stop "$W_N")
    say "  -> $rps req/s, p99 $p99, $spr syscalls/request"
    prow '%-28s | %9s | %8s | %8s | %s' "$1" "$rps" "$p99" "$spr" "$st"
}

kv_pinned() { # label
    local p c spr st set get p99
    for p in 1 16; do
        rb_pinned "$NREQ" "$p"
        set=$B_SET get=$B_GET p99=$B_P99
        count_start
        rb_pinned "$NREQ" "$p"
        c=$(count_stop)
        spr=$(per_req "$c" $((2 * NREQ)))
        strace_start
        rb_pinned "$STRACE_N" "$p"
        st=$(strace_stop $((2 * STRACE_N)))
        say "  -> -P$p SET $set GET $get req/s, GET p99 $p99, $spr syscalls/request"
        prow '%-28s | %9s | %9s | %8s | %8s | %s' "$1 -P$p" "$set" "$get" \
            "$p99" "$spr" "$st"
    done
}

if [ "$PINNED" = 1 ]; then
    have taskset || { echo "servers.sh: --pinned needs taskset" >&2; exit 2; }
    [ "$PERF_OK" = 1 ] || say "perf cannot count raw_syscalls:sys_enter here:" \
        "syscalls/request is n/a (strace's breakdown still runs)"
    AXONS=("$BUILD")
    [ -n "$BASE" ] && AXONS+=("$BASE")
    if have wrk; then
        for b in "${AXONS[@]}"; do
            lbl="axon http-hello l1"
            [ "$b" = "$BUILD" ] || lbl="$lbl (base)"
            [ -x "$b/examples/servers/http-hello" ] || continue
            say "$lbl on CPU $SCPU, wrk on CPU $LCPU"
            if start_listening hh taskset -c "$SCPU" \
                "$b/examples/servers/http-hello" --host "$HOST" --port 0 \
                --loops 1; then
                http_pinned "$lbl"
                stop_server
            fi
        done
        if [ -n "$NGINX" ]; then
            say "nginx (1 worker) on CPU $SCPU"
            mkdir -p "$TMP/nginx1/logs"
            np=$(free_port)
            cat >"$TMP/nginx1/nginx.conf" <<EOF2
worker_processes 1;
master_process off;
daemon off;
pid $TMP/nginx1/nginx.pid;
error_log $TMP/nginx1/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx1/cb;
    proxy_temp_path $TMP/nginx1/px;
    fastcgi_temp_path $TMP/nginx1/fc;
    uwsgi_temp_path $TMP/nginx1/uw;
    scgi_temp_path $TMP/nginx1/sc;
    keepalive_requests 100000000;
    server {
        listen $HOST:$np;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF2
            if start_port nginx1 "$np" taskset -c "$SCPU" "$NGINX" \
                -p "$TMP/nginx1" -e "$TMP/nginx1/logs/error.log" \
                -c "$TMP/nginx1/nginx.conf"; then
                http_pinned "nginx (1 worker)"
                stop_server
            fi
        fi
    else
        say "wrk not found: HTTP skipped"
    fi
    HLINES=("${PLINES[@]}")
    PLINES=()
    if have redis-benchmark; then
        for b in "${AXONS[@]}"; do
            lbl="axon kv-server l1"
            [ "$b" = "$BUILD" ] || lbl="$lbl (base)"
            [ -x "$b/examples/servers/kv-server" ] || continue
            say "$lbl on CPU $SCPU, redis-benchmark on CPU $LCPU"
            if start_listening kv taskset -c "$SCPU" \
                "$b/examples/servers/kv-server" --host "$HOST" --port 0 \
                --loops 1; then
                kv_pinned "$lbl"
                stop_server
            fi
        done
        if have redis-server; then
            say "redis-server on CPU $SCPU"
            rp=$(free_port)
            if start_port redis1 "$rp" taskset -c "$SCPU" redis-server \
                --port "$rp" --bind "$HOST" --save '' --appendonly no \
                --daemonize no --dir "$TMP" --protected-mode no; then
                kv_pinned "redis-server"
                stop_server
            fi
        fi
    else
        say "redis-benchmark not found: KV skipped"
    fi
    echo
    echo "one core each: servers on CPU $SCPU, load on CPU $LCPU" \
        "($(nproc 2>/dev/null || echo '?') CPUs)"
    echo
    echo "HTTP hello world, wrk -t1 -c64 -d$DURATION"
    printf '%-28s | %9s | %8s | %8s | %s\n' server "req/s" p99 "sys/req" \
        "strace -c, calls per request (wrk -d2s)"
    for l in "${HLINES[@]}"; do printf '%s\n' "$l"; done
    echo
    echo "key-value, redis-benchmark -t set,get -n $NREQ -c 50"
    printf '%-28s | %9s | %9s | %8s | %8s | %s\n' server "SET/s" "GET/s" \
        "GET p99" "sys/req" "strace -c, calls per request (-n $STRACE_N)"
    for l in "${PLINES[@]}"; do printf '%s\n' "$l"; done
    exit 0
fi

# ---------------------------------------------------------------------------
# HTTP

HCOLS=("axon http-hello l1" "axon http-hello l2*" "evhttp (1 thread)"
    "nginx (2 workers)")
HROWS=("wrk -t1 -c64 -d$DURATION" "wrk -t1 -c256 -d$DURATION")
HBASE=1

http_run() { # column
    wrk_warmup
    R["h0,$1"]=$(wrk_rps 64)
    R["h1,$1"]=$(wrk_rps 256)
    say "  -> ${R["h0,$1"]} / ${R["h1,$1"]} req/s"
}

if have wrk; then
    if [ -x "$EX/http-hello" ]; then
        for l in 1 2; do
            say "http-hello --loops $l"
            if start_listening "http-hello-$l" "$EX/http-hello" --host "$HOST" \
                --port 0 --loops "$l"; then
                http_run $((l - 1))
                stop_server
            fi
        done
    fi
    if [ -n "$EVHTTP" ]; then
        say "evhttp_hello"
        if start_listening evhttp "$EVHTTP" --host "$HOST" --port 0; then
            http_run 2
            stop_server
        fi
    fi
    if [ -n "$NGINX" ]; then
        say "nginx"
        mkdir -p "$TMP/nginx/logs"
        np=$(free_port)
        cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/cb;
    proxy_temp_path $TMP/nginx/px;
    fastcgi_temp_path $TMP/nginx/fc;
    uwsgi_temp_path $TMP/nginx/uw;
    scgi_temp_path $TMP/nginx/sc;
    keepalive_requests 100000000;
    server {
        listen $HOST:$np;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
        if start_port nginx "$np" "$NGINX" -p "$TMP/nginx" -e \
            "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf"; then
            http_run 3
            stop_server
        fi
    else
        say "nginx not found: skipped"
    fi
else
    say "wrk not found: HTTP benchmarks skipped"
fi

# ---------------------------------------------------------------------------
# KV

KCOLS=("axon kv-server l1" "axon kv-server l2*" "redis-server")
KROWS=("SET -c50 -P1" "GET -c50 -P1" "SET -c50 -P16" "GET -c50 -P16")
KBASE=1

kv_run() { # column
    rb_rps 1
    R["k0,$1"]=$RB_SET
    R["k1,$1"]=$RB_GET
    rb_rps 16
    R["k2,$1"]=$RB_SET
    R["k3,$1"]=$RB_GET
    say "  -> P1 ${R["k0,$1"]}/${R["k1,$1"]}, P16 ${R["k2,$1"]}/${R["k3,$1"]} (set/get)"
}

if have redis-benchmark; then
    if [ -x "$EX/kv-server" ]; then
        for l in 1 2; do
            say "kv-server --loops $l (redis-benchmark -n $NREQ)"
            if start_listening "kv-$l" "$EX/kv-server" --host "$HOST" \
                --port 0 --loops "$l"; then
                kv_run $((l - 1))
                stop_server
            fi
        done
    fi
    if have redis-server; then
        say "redis-server (redis-benchmark -n $NREQ)"
        rp=$(free_port)
        if start_port redis "$rp" redis-server --port "$rp" --bind "$HOST" \
            --save '' --appendonly no --daemonize no --dir "$TMP" \
            --protected-mode no; then
            kv_run 2
            stop_server
        fi
    else
        say "redis-server not found: skipped"
    fi
else
    say "redis-benchmark not found: KV benchmarks skipped"
fi

# ---------------------------------------------------------------------------
# The table

cell() { # value base
    local v=$1 b=$2
    case $v in
    '' | n/a | *[!0-9]*) printf '%s' "n/a" ;;
    *)
        case $b in
        '' | n/a | 0 | *[!0-9]*) printf '%s' "$v" ;;
        *) awk -v v="$v" -v b="$b" 'BEGIN { printf "%d (%.2f)", v, v / b }' ;;
        esac
        ;;
    esac
}

table() { # prefix nrows base cols... -- rows...
    local pfx=$1 base=$2 i j
    shift 2
    local cols=() rows=()
    while [ "$1" != -- ]; do cols+=("$1"); shift; done
    shift
    rows=("$@")
    printf '%-26s' ""
    for c in "${cols[@]}"; do printf ' | %-20s' "$c"; done
    printf '\n'
    for i in "${!rows[@]}"; do
        printf '%-26s' "${rows[$i]}"
        for j in "${!cols[@]}"; do
            printf ' | %-20s' "$(cell "${R["$pfx$i,$j"]:-n/a}" \
                "${R["$pfx$i,$base"]:-n/a}")"
        done
        printf '\n'
    done
}

echo
echo "requests/s on $HOST ($(nproc 2>/dev/null || echo '?') CPUs); in ()" \
    "the ratio to the column marked *"
echo
echo "HTTP hello world"
table h "$HBASE" "${HCOLS[@]}" -- "${HROWS[@]}"
echo
echo "key-value (redis-benchmark -n $NREQ)"
table k "$KBASE" "${KCOLS[@]}" -- "${KROWS[@]}"
