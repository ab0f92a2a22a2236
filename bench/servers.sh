#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/servers.sh -- axon's example servers against their usual peers.
#
# Usage:
#   bash bench/servers.sh [BUILD_DIR]
#
#   BUILD_DIR   an axon build directory with examples/ built (`make`);
#               default: the current directory if it has
#               examples/servers/http-hello, else ./_build/default.
#
# Environment:
#   BENCH_DURATION   wrk duration per run (default 5s)
#   BENCH_N          redis-benchmark requests per run (default 1000000;
#                    e.g. BENCH_N=100000 for a quick run)
#   BENCH_WARMUP     seconds of wrk warm-up before each HTTP server (1)
#   BENCH_NO_INSTALL set to 1 to never call apt-get
#   BENCH_PARTS      which tables, comma-separated (default
#                    hello,kv,static,tls)
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
#      static: http-hello --root --loops 2 and nginx (2 workers, sendfile
#            on) serving one directory, `wrk -t1 -c64` on a 4 KiB and a
#            1 MiB file;
#      HTTPS: http-hello --tls --loops 2 and nginx ssl (2 workers), one
#            self-signed EC P-256 certificate made with `openssl`, OpenSSL's
#            default cipher on both (shown), `wrk -t1 -c64` keep-alive and
#            `wrk -t1 -c16 -H "Connection: close"` (a full handshake per
#            request: handshakes/s);
#  - prints tables: requests/s per server side by side, and in
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
