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
#   BENCH_RATE       requests/s of the fixed-rate latency runs (2000)
#   BENCH_CHARTS     where the PNG charts go (default bench/charts)
#   BENCH_SERVER_CPU, BENCH_LOAD_CPU   --pinned: the CPUs (0 and 1)
#   BENCH_STRACE_N   --pinned: redis-benchmark requests under strace (20000)
#
# Pinned (--pinned): http-hello --loops 1, nginx (master_process off:
# one process, the worker) and uvloop (bench/peers/python/http_hello.py:
# one process, an asyncio.Protocol per connection) under `wrk -t1 -c64
# --latency`; kv-server
# --loops 1 and redis-server under `redis-benchmark -t set,get -c 50` with
# -P 1 and -P 16 (then under axload --mode get, pipeline 1, and --mode
# set and get, --pipeline 16). For each: requests/s and p99 (wrk) without
# any tracer; then system calls per request, counted by the kernel's
# raw_syscalls:sys_enter tracepoint (`perf stat -p`, cheap enough not to
# change the batching) over a second run of the same load; then, when
# strace exists, `strace -c -f -p` over a third, shorter run, printed as
# calls per request of each system call (strace slows the server several
# times, so its epoll_wait figure is lower than untraced; the reads and
# writes per request are what to compare). The system call counts are
# stable on a shared machine; requests/s are not.
#   BENCH_PARTS      which tables, comma-separated (default
#                    hello,kv,static,tls)
#
# What it does (builds nothing of axon):
#  - as root on a Debian-like system, installs the peers that are missing
#    with apt-get: wrk, nginx-light (or nginx), redis-server, redis-tools,
#    curl, python3-uvloop;
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
#      static: http-hello --root --loops 2 and nginx (2 workers, sendfile
#            on) serving one directory, `wrk -t1 -c64` on a 4 KiB and a
#            1 MiB file;
#      HTTPS: http-hello --tls --loops 2 and nginx ssl (2 workers), one
#            self-signed EC P-256 certificate made with `openssl`, OpenSSL's
#            default cipher on both (shown), `wrk -t1 -c64` keep-alive and
#            `wrk -t1 -c16 -H "Connection: close"` (a full handshake per
#            request: handshakes/s);
#  - each server's latency at a fixed rate: `axload --rate BENCH_RATE
#    --connections 16` (open loop: latency from each request's due time,
#    so a stall is not hidden; GET for the KV servers), p50 .. p99.99 and
#    the maximum;
#  - the load generators side by side, all driving the same nginx from one
#    core (`taskset -c 0` when there are >= 2 CPUs): axload --loops 1,
#    wrk -t1, h2load --h1 -t1 and hey (GOMAXPROCS=1), each with 64
#    connections as fast as they can (the requests/s ONE core generates),
#    then each at BENCH_RATE requests/s over 16 connections with the
#    latency percentiles it reports (axload: open loop, and its service
#    time; hey -q: per-worker rate, latency from the actual send; h2load
#    --rps: mean and max only; Debian's wrk 4.1 has no rate mode, so it is
#    left out unless the wrk found is wrk2, with -R);
#  - prints the tables: requests/s per server side by side, and in
#    parentheses the ratio to the axon server marked with * (http-hello
#    --loops 2, kv-server --loops 2): above 1.00 the peer is faster; the
#    latency tables; the load generators' table;
#  - draws the charts with bench/charts.py (bench/run's; gnuplot or
#    python3-matplotlib): a bar chart per throughput row, a latency
#    percentile chart per table, in BENCH_CHARTS;
#  - prints a progress line ("== [Ns] ...") before each run.
#
# The peer load generators come from `bash tests/install-deps.sh bench`
# (wrk nghttp2-client hey gnuplot-nox); as root this script installs
# what is missing itself.
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
RATE=${BENCH_RATE:-2000}
CHARTS=${BENCH_CHARTS:-$HERE/charts}
HOST=127.0.0.1
case $RATE in
'' | *[!0-9]* | 0) echo "servers.sh: BENCH_RATE='$RATE' is not a whole rate > 0" >&2; exit 2 ;;
esac

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
PARTS=${BENCH_PARTS:-hello,kv,static,tls}

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
part() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }
say() { echo "== [${SECONDS}s] $*" >&2; }

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
    have h2load || pkgs="$pkgs nghttp2-client"
    have hey || pkgs="$pkgs hey"
    have gnuplot || /usr/bin/python3 -c 'import matplotlib' 2>/dev/null ||
        pkgs="$pkgs gnuplot-nox"
    /usr/bin/python3 -c 'import uvloop' 2>/dev/null ||
        pkgs="$pkgs python3-uvloop"
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

# ---------------------------------------------------------------------------
# Latency at a fixed rate, and the load generators side by side.
# Latencies are kept as "p50 p90 p99 p99.9 p99.99 max" in ms, "-" where a
# tool does not report that point.

AXLOAD=$EX/axload
SECS=${DURATION%s}
PCTS="p50 p90 p99 p99.9 p99.99 max"
PIN=()
if have taskset && [ "$(nproc 2>/dev/null || echo 1)" -ge 2 ]; then
    PIN=(taskset -c 0)
fi
declare -A LAT      # LAT[key] = the six figures
declare -A GEN      # GEN[tool] = requests/s from one core
# The system's python3 first (a version manager's shim can take seconds
# to start).
PY=$(command -v /usr/bin/python3 || command -v python3)
HAVE_PY=0
[ -n "$PY" ] && HAVE_PY=1

# json_lat FIELD... < axload's --json: a line per FIELD, its six figures
# in ms.
json_lat() {
    "$PY" -c 'import json, sys
d = json.load(sys.stdin)
for f in sys.argv[1:]:
    try:
        h = d[f]
        print(" ".join("%.3f" % (h[k] / 1e6) for k in
                       ("p50", "p90", "p99", "p99.9", "p99.99", "max")))
    except Exception:
        print("- - - - - -")' "$@" 2>/dev/null || printf -- '- - - - - -\n- - - - - -\n'
}

# axload_lat KEY [ARGS...]: axload, open loop at $RATE over 16
# connections, against $PORT; sets LAT[KEY] (and LAT[KEY.svc], the
# service time).
axload_lat() {
    local key=$1 out
    shift
    if [ ! -x "$AXLOAD" ] || [ $HAVE_PY = 0 ]; then
        LAT[$key]="- - - - - -"
        return
    fi
    say "  axload --rate $RATE --connections 16 --duration $SECS $*"
    out=$(timeout $((SECS + 30)) "${PIN[@]}" "$AXLOAD" --host "$HOST" \
        --port "$PORT" --loops 1 --connections 16 --rate "$RATE" \
        --duration "$SECS" --json "$@" 2>>"$TMP/axload.log")
    printf '%s\n' "$out" >>"$TMP/axload.log"
    { read -r LAT[$key]; read -r LAT[$key.svc]; } < <(printf '%s' "$out" |
        json_lat latency_ns service_ns)
}

# The latency lines of wrk2 (" 99.900%  1.23ms") or hey ("99% in 0.0012
# secs", "Slowest: 0.0123 secs"), or h2load's "time for request:" row
# (min max mean sd): the six figures.
parse_lat() { # kind < output
    awk -v kind="$1" '
    function ms(v,  n) {
        n = v + 0
        if (v ~ /us$/) return n / 1000
        if (v ~ /ns$/) return n / 1e6
        if (v ~ /ms$/) return n
        if (v ~ /m$/) return n * 60000
        return n * 1000                     # s, secs
    }
    BEGIN { split("50 90 99 99.9 99.99 100", want, " ")
            for (i = 1; i <= 6; i++) v[i] = "-" }
    kind == "wrk2" && $1 ~ /^[0-9.]+%$/ && NF == 2 {
        p = substr($1, 1, length($1) - 1) + 0
        for (i = 1; i <= 6; i++) if (p == want[i] + 0) v[i] = sprintf("%.3f", ms($2))
    }
    kind == "hey" && $2 == "in" && $1 ~ /%$/ {
        p = substr($1, 1, length($1) - 1) + 0
        for (i = 1; i <= 5; i++) if (p == want[i] + 0) v[i] = sprintf("%.3f", ms($3 "s"))
    }
    kind == "hey" && $1 == "Slowest:" { v[6] = sprintf("%.3f", ms($2 "s")) }
    kind == "h2load" && /^time for request:/ { v[6] = sprintf("%.3f", ms($5)) }
    END { print v[1], v[2], v[3], v[4], v[5], v[6] }'
}

# gen_max TOOL: TOOL with 64 connections on one core, as fast as it can;
# GEN[TOOL] = requests/s, or n/a.
gen_max() {
    local tool=$1 url="http://$HOST:$PORT/" out v=""
    say "  $tool: 64 connections, one core, ${SECS}s"
    case $tool in
    axload)
        [ -x "$AXLOAD" ] && [ $HAVE_PY = 1 ] &&
            out=$(timeout $((SECS + 30)) "${PIN[@]}" "$AXLOAD" --host "$HOST" \
                --port "$PORT" --loops 1 --connections 64 --duration "$SECS" \
                --json 2>/dev/null) &&
            v=$(printf '%s' "$out" | "$PY" -c \
                'import json, sys; print(int(json.load(sys.stdin)["requests_per_s"]))')
        ;;
    wrk)
        have wrk && out=$(timeout $((SECS + 30)) "${PIN[@]}" wrk -t1 -c64 \
            -d"${SECS}s" "$url" 2>&1) &&
            v=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { printf "%d", $2 }')
        ;;
    h2load)
        have h2load && out=$(timeout $((SECS + 30)) "${PIN[@]}" h2load --h1 \
            -t1 -c64 -D "$SECS" "$url" 2>&1) &&
            v=$(printf '%s\n' "$out" | awk '/^finished in/ { printf "%d", $4 }')
        ;;
    hey)
        have hey && out=$(GOMAXPROCS=1 timeout $((SECS + 30)) "${PIN[@]}" \
            hey -c 64 -z "${SECS}s" "$url" 2>&1) &&
            v=$(printf '%s\n' "$out" | awk '/Requests\/sec:/ { printf "%d", $2 }')
        ;;
    esac
    printf '%s\n' "${out:-}" >>"$TMP/gen.log"
    GEN[$tool]=${v:-n/a}
    say "  -> ${GEN[$tool]} req/s"
}

# gen_rate TOOL: TOOL at $RATE requests/s over 16 connections; sets
# LAT[gen.TOOL].
gen_rate() {
    local tool=$1 url="http://$HOST:$PORT/" out per
    per=$(awk -v r="$RATE" 'BEGIN { printf "%g", r / 16 }')
    LAT[gen.$tool]="- - - - - -"
    case $tool in
    axload)
        axload_lat gen.axload
        return
        ;;
    wrk)
        # Only wrk2 (which Debian does not package) has a rate: -R.
        wrk --help 2>&1 | grep -q -- '-R' || {
            say "  wrk: no -R (Debian's wrk 4.1 has no rate mode): left out"
            return
        }
        say "  wrk -R $RATE -c16 --latency"
        out=$(timeout $((SECS + 30)) "${PIN[@]}" wrk -t1 -c16 -d"${SECS}s" \
            -R "$RATE" --latency "$url" 2>&1)
        LAT[gen.wrk]=$(printf '%s\n' "$out" | parse_lat wrk2)
        ;;
    h2load)
        have h2load || return
        say "  h2load --h1 -c16 --rps $per (per client)"
        out=$(timeout $((SECS + 30)) "${PIN[@]}" h2load --h1 -t1 -c16 \
            --rps "$per" -D "$SECS" "$url" 2>&1)
        LAT[gen.h2load]=$(printf '%s\n' "$out" | parse_lat h2load)
        ;;
    hey)
        have hey || return
        say "  hey -c 16 -q $per (per worker)"
        out=$(GOMAXPROCS=1 timeout $((SECS + 30)) "${PIN[@]}" hey -c 16 \
            -q "$per" -z "${SECS}s" "$url" 2>&1)
        LAT[gen.hey]=$(printf '%s\n' "$out" | parse_lat hey)
        ;;
    esac
    printf '%s\n' "${out:-}" >>"$TMP/gen.log"
}

GENS=(axload wrk h2load hey)

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
# tracer_end PID: stop a tracer (perf or strace; none if PID is empty) in
# this shell, so that its output is written before it is read (`wait` in
# a $(...) subshell returns at once: n/a in some runs).
tracer_end() {
    [ -n "$1" ] || return 0
    kill -INT "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
count_stop() { # after tracer_end "$CPID": prints the count, or n/a
    [ -n "$CPID" ] || { printf 'n/a'; return 0; }
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
strace_stop() { # after tracer_end "$STPID"
    [ -n "$STPID" ] || { printf 'n/a (no strace)'; return 0; }
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
    tracer_end "$CPID"
    c=$(count_stop)
    local spr
    spr=$(per_req "$c" "$W_N")
    strace_start
    wrk_pinned 2s
    local st
    tracer_end "$STPID"
    st=$(strace_stop "$W_N")
    say "  -> $rps req/s, p99 $p99, $spr syscalls/request"
    prow '%-28s | %9s | %8s | %8s | %s' "$1" "$rps" "$p99" "$spr" "$st"
    ax_pinned "$1" http 64
}

kv_pinned() { # label
    local p c spr st set get p99
    for p in 1 16; do
        rb_pinned "$NREQ" "$p"
        set=$B_SET get=$B_GET p99=$B_P99
        count_start
        rb_pinned "$NREQ" "$p"
        tracer_end "$CPID"
        c=$(count_stop)
        spr=$(per_req "$c" $((2 * NREQ)))
        strace_start
        rb_pinned "$STRACE_N" "$p"
        tracer_end "$STPID"
        st=$(strace_stop $((2 * STRACE_N)))
        say "  -> -P$p SET $set GET $get req/s, GET p99 $p99, $spr syscalls/request"
        prow '%-28s | %9s | %9s | %8s | %8s | %s' "$1 -P$p" "$set" "$get" \
            "$p99" "$spr" "$st"
    done
    ax_pinned "$1" get 50
    ax_pinned "$1 SET" set 50 16 # first: the GETs find values
    ax_pinned "$1 GET" get 50 16
}

# The same server under axload (MODE http, get or set, C connections, P
# requests in flight each, default 1): a row of AHLINES (http), ALINES
# (get, P 1) or A16LINES (P > 1: pipelined, where the user-space work per
# command decides, not the kernel's per read and write). The
# usual load generators cost more CPU per request than the servers do:
# redis-benchmark about 7 system calls and 25-40 us per request, and
# wrk -t1 leaves the server at 57-71% of its core (measured 2026-12-02),
# so their figures partly measure themselves; axload makes 2 system
# calls per request and leaves the server the busier core (98-99%).
ALINES=()
AHLINES=()
A16LINES=()
ax_row() { # mode pipeline row
    if [ "$2" -gt 1 ]; then A16LINES+=("$3")
    elif [ "$1" = http ]; then AHLINES+=("$3")
    else ALINES+=("$3"); fi
}
ax_pinned() { # label mode connections [pipeline]
    local out rps p99 pl=${4:-1}
    if [ ! -x "$AXLOAD" ] || [ $HAVE_PY = 0 ]; then
        ax_row "$2" "$pl" "$(printf '%-28s | %9s | %8s' "$1" n/a n/a)"
        return
    fi
    out=$(timeout $((SECS + 30)) taskset -c "$LCPU" "$AXLOAD" --host "$HOST" \
        --port "$PORT" --loops 1 --connections "$3" --mode "$2" \
        --pipeline "$pl" --duration "$SECS" --json 2>>"$TMP/axload.log")
    printf '%s\n' "$out" >>"$TMP/axload.log"
    read -r rps p99 < <(printf '%s' "$out" | "$PY" -c 'import json, sys
d = json.load(sys.stdin)
print(int(d["requests_per_s"]), "%.3fms" % (d["latency_ns"]["p99"] / 1e6))' \
        2>/dev/null || echo "n/a n/a")
    say "  -> axload $2 -P$pl: $rps req/s, p99 $p99"
    ax_row "$2" "$pl" "$(printf '%-28s | %9s | %8s' "$1" "${rps:-n/a}" "${p99:-n/a}")"
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
        if [ $HAVE_PY = 1 ] && "$PY" -c 'import uvloop' 2>/dev/null; then
            say "uvloop (1 process) on CPU $SCPU"
            if start_listening uvloop taskset -c "$SCPU" "$PY" \
                "$HERE/peers/python/http_hello.py" --host "$HOST" --port 0; then
                http_pinned "uvloop (1 process)"
                stop_server
            fi
        else
            say "uvloop not found (Debian: python3-uvloop): its row skipped"
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
    echo "HTTP hello world, axload --connections 64 --pipeline 1 --duration $SECS"
    printf '%-28s | %9s | %8s\n' server "req/s" p99
    for l in "${AHLINES[@]}"; do printf '%s\n' "$l"; done
    echo
    echo "key-value, redis-benchmark -t set,get -n $NREQ -c 50"
    printf '%-28s | %9s | %9s | %8s | %8s | %s\n' server "SET/s" "GET/s" \
        "GET p99" "sys/req" "strace -c, calls per request (-n $STRACE_N)"
    for l in "${PLINES[@]}"; do printf '%s\n' "$l"; done
    echo
    echo "key-value, axload --mode get --connections 50 --pipeline 1 --duration $SECS"
    printf '%-28s | %9s | %8s\n' server "GET/s" "GET p99"
    for l in "${ALINES[@]}"; do printf '%s\n' "$l"; done
    echo
    echo "key-value, axload --mode get|set --connections 50 --pipeline 16 --duration $SECS"
    printf '%-28s | %9s | %8s\n' server "req/s" "p99"
    for l in "${A16LINES[@]}"; do printf '%s\n' "$l"; done
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
    say "  wrk -t1 -c64, -c256 for $DURATION each"
    R["h0,$1"]=$(wrk_rps 64)
    R["h1,$1"]=$(wrk_rps 256)
    say "  -> ${R["h0,$1"]} / ${R["h1,$1"]} req/s"
    axload_lat "h.$1"
}

if part hello && have wrk; then
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
            say "load generators against this nginx"
            for g in "${GENS[@]}"; do gen_max "$g"; done
            say "load generators at $RATE req/s (16 connections)"
            for g in "${GENS[@]}"; do gen_rate "$g"; done
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
    axload_lat "k.$1" --mode get
}

if part kv && have redis-benchmark; then
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
# Static files: http-hello --root against nginx serving the same directory
# (sendfile on both sides).

SCOLS=("axon http-hello --root l2*" "nginx (2 workers)")
SROWS=("4 KiB file, wrk -c64" "1 MiB file, wrk -c64")
SBASE=0

# nginx_conf DIR SERVER_BLOCK: a 2-worker config with every path in DIR.
nginx_conf() {
    local user=""
    # As root, nginx's workers would run as nobody, who cannot read our
    # 0700 temporary directory.
    [ "$(id -u)" = 0 ] && user="user root;"
    mkdir -p "$1/logs"
    cat >"$1/nginx.conf" <<EOF
$user
worker_processes 2;
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $1/cb;
    proxy_temp_path $1/px;
    fastcgi_temp_path $1/fc;
    uwsgi_temp_path $1/uw;
    scgi_temp_path $1/sc;
    keepalive_requests 100000000;
    sendfile on;
    tcp_nopush on;
    $2
}
EOF
}

wrk_url_rps() { # url conns [wrk args...]
    local url=$1 conns=$2 out secs
    shift 2
    secs=${DURATION%s}
    out=$(timeout $((secs + 30)) wrk -t1 -c"$conns" -d"$DURATION" "$@" \
        "$url" 2>&1)
    printf '%s\n' "$out" >>"$TMP/wrk.log"
    printf '%s\n' "$out" | awk '/^Requests\/sec:/ { printf "%d", $2; f = 1 }
        END { if (!f) printf "n/a" }'
}

# files_ok: both files come back whole with 200 (else the figures would
# be those of an error page).
files_ok() {
    local f
    for f in small.bin big.bin; do
        if ! timeout 30 curl -sf -o "$TMP/got" "http://$HOST:$PORT/$f" ||
            ! cmp -s "$TMP/got" "$WWW/$f"; then
            say "  GET /$f does not return the file: skipped"
            return 1
        fi
    done
}

static_run() { # column
    files_ok || return
    R["s0,$1"]=$(wrk_url_rps "http://$HOST:$PORT/small.bin" 64)
    R["s1,$1"]=$(wrk_url_rps "http://$HOST:$PORT/big.bin" 64)
    say "  -> 4 KiB ${R["s0,$1"]}, 1 MiB ${R["s1,$1"]} req/s"
}

if part static && have wrk; then
    WWW=$TMP/www
    mkdir -p "$WWW"
    head -c 4096 /dev/urandom >"$WWW/small.bin"
    head -c 1048576 /dev/urandom >"$WWW/big.bin"
    if [ -x "$EX/http-hello" ]; then
        say "http-hello --root --loops 2"
        if start_listening http-root "$EX/http-hello" --host "$HOST" \
            --port 0 --loops 2 --root "$WWW"; then
            static_run 0
            stop_server
        fi
    fi
    if [ -n "$NGINX" ]; then
        say "nginx, root $WWW"
        np=$(free_port)
        nginx_conf "$TMP/nginx-s" "server { listen $HOST:$np; root $WWW; }"
        if start_port nginx-s "$np" "$NGINX" -p "$TMP/nginx-s" -e \
            "$TMP/nginx-s/logs/error.log" -c "$TMP/nginx-s/nginx.conf"; then
            static_run 1
            stop_server
        fi
    fi
fi

# ---------------------------------------------------------------------------
# HTTPS: http-hello --tls against nginx with TLS, the same certificate
# (EC P-256, made here with the openssl command) and the same cipher
# (both left to OpenSSL's defaults and the same client: the table shows
# what s_client negotiated with each). Keep-alive: wrk over one connection
# per client; handshakes: wrk with "Connection: close", so that every
# request is a new connection with a full handshake (wrk resumes no
# sessions).

TCOLS=("axon http-hello --tls l2*" "nginx ssl (2 workers)")
TROWS=("keep-alive req/s, wrk -c64" "handshakes/s, wrk -c16 close")
TBASE=0
TCIPHER=()

tls_run() { # column
    TCIPHER[$1]=$(timeout 10 openssl s_client -connect "$HOST:$PORT" \
        -servername localhost </dev/null 2>/dev/null |
        awk '/^New, / { print $2, $NF; exit }')
    R["t0,$1"]=$(wrk_url_rps "https://$HOST:$PORT/" 64)
    R["t1,$1"]=$(wrk_url_rps "https://$HOST:$PORT/" 16 -H "Connection: close")
    say "  -> ${TCIPHER[$1]}: keep-alive ${R["t0,$1"]} req/s, handshakes ${R["t1,$1"]}/s"
}

if part tls && have wrk && have openssl; then
    CRT=$TMP/tls
    mkdir -p "$CRT"
    if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -nodes -keyout "$CRT/key.pem" -out "$CRT/cert.pem" -days 2 \
        -subj /CN=localhost >"$CRT/log" 2>&1; then
        if [ -x "$EX/http-hello" ]; then
            say "http-hello --tls --loops 2"
            if start_listening http-tls "$EX/http-hello" --host "$HOST" \
                --port 0 --loops 2 --tls "$CRT/cert.pem" "$CRT/key.pem"; then
                tls_run 0
                stop_server
            fi
        fi
        if [ -n "$NGINX" ]; then
            say "nginx ssl"
            np=$(free_port)
            nginx_conf "$TMP/nginx-t" "server { listen $HOST:$np ssl;
        ssl_certificate $CRT/cert.pem; ssl_certificate_key $CRT/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off; ssl_session_tickets off;
        location / { default_type text/plain; return 200 \"Hello, World!\"; } }"
            if start_port nginx-t "$np" "$NGINX" -p "$TMP/nginx-t" -e \
                "$TMP/nginx-t/logs/error.log" -c "$TMP/nginx-t/nginx.conf"; then
                tls_run 1
                stop_server
            fi
        fi
    else
        say "openssl could not make a certificate: HTTPS skipped"
    fi
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
if part hello; then
    echo
    echo "HTTP hello world"
    table h "$HBASE" "${HCOLS[@]}" -- "${HROWS[@]}"
fi
if part kv; then
    echo
    echo "key-value (redis-benchmark -n $NREQ)"
    table k "$KBASE" "${KCOLS[@]}" -- "${KROWS[@]}"
fi
if part static; then
    echo
    echo "static files (requests/s)"
    table s "$SBASE" "${SCOLS[@]}" -- "${SROWS[@]}"
fi
if part tls; then
    echo
    echo "HTTPS, one certificate (negotiated: axon ${TCIPHER[0]:-n/a};" \
        "nginx ${TCIPHER[1]:-n/a})"
    table t "$TBASE" "${TCOLS[@]}" -- "${TROWS[@]}"
fi

# lat_table TITLE (NAME KEY)...: one row per NAME with LAT[KEY]'s figures.
lat_table() {
    local title=$1 name key v
    shift
    echo
    echo "$title"
    printf '%-34s' "latency, ms"
    for v in $PCTS; do printf ' | %9s' "$v"; done
    printf '\n'
    while [ $# -ge 2 ]; do
        name=$1 key=$2
        shift 2
        [ -n "${LAT[$key]:-}" ] || continue
        printf '%-34s' "$name"
        for v in ${LAT[$key]}; do printf ' | %9s' "$v"; done
        printf '\n'
    done
}

HLAT=("axon http-hello l1" h.0 "axon http-hello l2" h.1 "evhttp (1 thread)" h.2
    "nginx (2 workers)" h.3)
KLAT=("axon kv-server l1" k.0 "axon kv-server l2" k.1 "redis-server" k.2)
GLAT=("axload (open loop)" gen.axload "axload: service time" gen.axload.svc
    "wrk2 -R" gen.wrk "h2load --rps (max only)" gen.h2load
    "hey -q" gen.hey)
lat_table "HTTP latency at $RATE req/s (axload --rate, open loop, 16 connections)" \
    "${HLAT[@]}"
lat_table "key-value GET latency at $RATE req/s (axload --rate --mode get)" \
    "${KLAT[@]}"
echo
echo "load generators against the same nginx, from one core" \
    "(${PIN[*]:-not pinned}): requests/s with 64 connections"
for g in "${GENS[@]}"; do
    printf '  %-10s %s\n' "$g" "${GEN[$g]:-n/a}"
done
lat_table "load generators at $RATE req/s over 16 connections: the latency each reports" \
    "${GLAT[@]}"

# ---------------------------------------------------------------------------
# Charts (bench/charts.py, as bench/run draws them)

# bars.tsv: chart, title, unit, system, value; lines.tsv: chart, title,
# series, the six figures.
: >"$TMP/bars.tsv"
: >"$TMP/lines.tsv"
bars_rows() { # chart title prefix base cols... -- rows...
    local chart=$1 title=$2 pfx=$3 i j
    shift 3
    local cols=()
    while [ "$1" != -- ]; do cols+=("$1"); shift; done
    shift
    i=0
    for r in "$@"; do
        for j in "${!cols[@]}"; do
            printf '%s-%d\t%s: %s\treq/s\t%s\t%s\n' "$chart" "$i" "$title" "$r" \
                "${cols[$j]}" "${R["$pfx$i,$j"]:-n/a}" >>"$TMP/bars.tsv"
        done
        i=$((i + 1))
    done
}
bars_rows servers-http "HTTP hello world" h "${HCOLS[@]}" -- "${HROWS[@]}"
bars_rows servers-kv "key-value" k "${KCOLS[@]}" -- "${KROWS[@]}"
for g in "${GENS[@]}"; do
    printf 'loadgen-throughput\t%s\treq/s\t%s\t%s\n' \
        "requests/s one core generates (64 connections, nginx)" "$g" \
        "${GEN[$g]:-n/a}" >>"$TMP/bars.tsv"
done
lines_rows() { # chart title (name key)...
    local chart=$1 title=$2
    shift 2
    while [ $# -ge 2 ]; do
        [ -n "${LAT[$2]:-}" ] &&
            printf '%s\t%s\t%s\t%s\n' "$chart" "$title" "$1" \
                "${LAT[$2]// /$'\t'}" >>"$TMP/lines.tsv"
        shift 2
    done
}
lines_rows servers-http-latency "HTTP latency at $RATE req/s (axload open loop)" \
    "${HLAT[@]}"
lines_rows servers-kv-latency "GET latency at $RATE req/s (axload open loop)" \
    "${KLAT[@]}"
lines_rows loadgen-latency "latency each generator reports at $RATE req/s (nginx)" \
    "${GLAT[@]}"

if [ $HAVE_PY = 1 ]; then
    say "charts into $CHARTS"
    "$PY" - "$TMP" "$CHARTS" >"$TMP/specs.json" <<'EOF_PY'
import collections, json, os, sys
tmp, out = sys.argv[1], sys.argv[2]
def num(v):
    try:
        return float(v)
    except ValueError:
        return None
specs = []
bars = collections.OrderedDict()
for line in open(os.path.join(tmp, "bars.tsv")):
    chart, title, unit, system, v = line.rstrip("\n").split("\t")
    if num(v) is not None:
        bars.setdefault(chart, (title, unit, []))[2].append((system, num(v)))
for chart, (title, unit, rows) in bars.items():
    specs.append({"kind": "bars", "png": os.path.join(out, chart + ".png"),
                  "title": title, "unit": unit, "log": False, "note": "",
                  "rows": [{"system": s, "median": v, "min": v, "max": v}
                           for s, v in rows],
                  "labels": ["%d" % v for s, v in rows]})
lines = collections.OrderedDict()
for line in open(os.path.join(tmp, "lines.tsv")):
    chart, title, name, *vals = line.rstrip("\n").split("\t")
    vals = [num(v) for v in vals]
    if any(v is not None for v in vals):
        lines.setdefault(chart, (title, []))[1].append((name, vals))
for chart, (title, series) in lines.items():
    specs.append({"kind": "lines", "png": os.path.join(out, chart + ".png"),
                  "title": title, "xlabel": "percentile",
                  "ylabel": "latency, ms (log scale)", "log": True,
                  "note": "", "xticks": "p50 p90 p99 p99.9 p99.99 max".split(),
                  "series": [{"name": n, "values": v} for n, v in series]})
json.dump(specs, sys.stdout)
EOF_PY
    if made=$("$PY" "$HERE/charts.py" "$TMP/specs.json"); then
        echo
        echo "charts:"
        printf '  %s\n' $made
    else
        echo
        echo "charts: some could not be drawn (install gnuplot or python3-matplotlib):"
        printf '  %s\n' $made
    fi
else
    say "no python3: no charts"
fi
