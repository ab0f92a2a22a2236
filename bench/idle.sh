#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/idle.sh -- memory per idle keep-alive connection: axon's servers
# against nginx and Go.
#
# Usage:
#   bash bench/idle.sh [BUILD_DIR [N [CHAT_N]]]
#
#   BUILD_DIR  an axon build directory with examples/ and bench/idle_client
#              built (`make`); default: . if it has bench/idle_client,
#              else ./_build/default.
#   N          keep-alive connections per HTTP server (default 100000)
#   CHAT_N     chat members (default 10000)
#
# Environment:
#   IDLE_SYSTEMS    which rows, comma-separated (default
#                   http-hello,http-hello-shared,http-hello-park,
#                   http-hello-park-shared,nginx,go-http,chat,
#                   chat-shared,chat-park,chat-park-shared,go-chat)
#   IDLE_BASE       a second axon build directory (say, before a change):
#                   its http-hello and chat are measured in the same run,
#                   as rows "http-hello (base)" and "chat (base)"
#   IDLE_SETTLE     seconds between the last answer and the "after" RSS (2)
#   IDLE_GO_BIN     a built bench/peers/gohttp (axbench-go-http); default:
#                   built here into a temporary directory with Debian's go
#
# For each server: start it on a free 127.0.0.1 port, read its VmRSS
# (/proc/PID/status), open the connections with bench/idle_client (each
# sends one request, reads its answer, then stays open and idle: see
# bench/idle_client.c), wait IDLE_SETTLE s, read VmRSS again, check that
# every connection is still open, stop it all. Rows:
#   http-hello  examples/servers/http-hello --loops 1 --idle-timeout 600
#   http-hello-shared  the same with --shared-stacks (connection tasks on
#               the loop's shared stack)
#   http-hello-park  the same with --park-idle (an idle connection is
#               parked with ax_serve_park(): no task while it waits)
#   http-hello-park-shared  --park-idle --shared-stacks
#   nginx       one process (master_process off: it is the worker),
#               worker_connections 2 N + 256 (with fewer than 1/16 of
#               them free, nginx closes idle keep-alive connections to
#               make room), keepalive_timeout 600s,
#               `return 200 "Hello, World!"`, access_log off
#   go-http     bench/peers/gohttp: net/http, GOMAXPROCS=1, IdleTimeout
#               10 min
#   chat        examples/servers/chat --loops 1 --announce-max 0: CHAT_N
#               members joined (no join announced: the idle clients read
#               nothing, and a thousand announcements would pile up in
#               the first members' sockets and writers)
#   chat-shared the same with --shared-stacks (readers and writer actors
#               on the loop's shared stack)
#   chat-park   the same with --park-idle (an idle member has no task and
#               no actor: its reader is parked with ax_serve_park(), a
#               writer task runs only while lines are queued)
#   chat-park-shared  --park-idle --shared-stacks
#   go-chat     bench/peers/gohttp chat, GOMAXPROCS=1, announcements off:
#               the same protocol, a reader and a writer goroutine per
#               member
# The table gives the RSS before and after, the growth per connection
# ((after - before) / connections held) and the whole RSS per connection
# (after / held: what nginx allocates up front for worker_connections is in
# its "before").
#
# Limits: every connection is a descriptor in the server and one in the
# client. A client process holds at most its RLIMIT_NOFILE less 64, so
# several client processes share the connections. The server needs N + 64
# descriptors: the script raises the soft limit to the hard one; above the
# hard limit only a privileged process can go (`prlimit --nofile`, tried),
# and otherwise N is cut to what the hard limit allows, and the script
# says so. Above 5,000 connections they come from 127.0.0.2, .3, ... (one
# source address has ~28,000 ephemeral ports towards one port, and
# connect() slows down long before they run out).
# Nothing asserts a figure; exit status 0 unless a server failed to start
# or a client failed.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SYSTEMS=${IDLE_SYSTEMS:-http-hello,http-hello-shared,http-hello-park,http-hello-park-shared,nginx,go-http,chat,chat-shared,chat-park,chat-park-shared,go-chat}
SETTLE=${IDLE_SETTLE:-2}
BUILD=${1:-}
N=${2:-100000}
CHAT_N=${3:-10000}
if [ -z "$BUILD" ]; then
    if [ -x ./bench/idle_client ]; then BUILD=.; else BUILD=./_build/default; fi
fi
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || {
    echo "idle.sh: no build directory '$1'" >&2
    exit 2
}
case $N$CHAT_N in *[!0-9]*) echo "idle.sh: N and CHAT_N are counts" >&2; exit 2 ;; esac
CLIENT=$BUILD/bench/idle_client
[ -x "$CLIENT" ] || { echo "idle.sh: no $CLIENT: run make" >&2; exit 2; }
BASE=""
if [ -n "${IDLE_BASE:-}" ]; then
    BASE=$(cd "$IDLE_BASE" 2>/dev/null && pwd) || {
        echo "idle.sh: no IDLE_BASE directory '$IDLE_BASE'" >&2
        exit 2
    }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ax-idle.XXXXXX") || exit 1
SPID=""
CPIDS=""
cleanup() {
    local p
    for p in $CPIDS $SPID; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { echo "== $*" >&2; }
FAILED=0

# ---- descriptors ------------------------------------------------------------
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD" 2>/dev/null
SOFT=$(ulimit -n)
PRLIMIT=()
need=$(( (N > CHAT_N ? N : CHAT_N) + 64 ))
NOTE=""
if [ "$need" -gt "$SOFT" ]; then
    if command -v prlimit >/dev/null 2>&1 &&
        prlimit --nofile="$need:$need" true 2>/dev/null; then
        PRLIMIT=(prlimit --nofile="$need:$need")
    else
        max=$((SOFT - 64))
        NOTE="the server's RLIMIT_NOFILE: hard limit $HARD, and raising it needs CAP_SYS_RESOURCE (prlimit --nofile=$need failed here)"
        [ "$N" -gt "$max" ] && { say "N cut from $N to $max: $NOTE"; N=$max; }
        [ "$CHAT_N" -gt "$max" ] && { say "CHAT_N cut from $CHAT_N to $max: $NOTE"; CHAT_N=$max; }
    fi
fi
PER_CLIENT=$((SOFT - 64))

free_port() {
    local p i
    for i in $(seq 1 50); do
        # Below the ephemeral range (32768-60999), where the clients'
        # own ports are.
        p=$((10000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

wait_port() {
    local i=0
    while [ $i -lt 100 ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$SPID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

stop_server() {
    local i=0
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    while [ $i -lt 100 ] && kill -0 "$SPID" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=""
}

ROWS=()

# measure LABEL MODE COUNT PORT: the server SPID listens on PORT.
measure() {
    local label=$1 mode=$2 count=$3 port=$4
    local before after held=0 open=0 c=0 first=0 k n src i pid
    local -a pids=()
    sleep 0.5
    before=$(rss_kib "$SPID")
    src=1
    # Several source addresses from 5,000 up: connect() gets slow as one
    # (source, destination) pair's ephemeral ports fill up.
    [ "$count" -gt 5000 ] && src=$(((count + 4999) / 5000))
    say "$label: $count connections (pid $SPID, RSS $before KiB)"
    local t0=$SECONDS
    while [ "$first" -lt "$count" ]; do
        n=$((count - first))
        [ "$n" -gt "$PER_CLIENT" ] && n=$PER_CLIENT
        "$CLIENT" "$mode" "$port" "$n" "$src" "$first" >"$TMP/c$c.out" 2>"$TMP/c$c.err" &
        pid=$!
        pids+=("$pid")
        CPIDS="$CPIDS $pid"
        first=$((first + n))
        c=$((c + 1))
    done
    # Wait for every client's "held" line (hang guard: 10 minutes).
    for ((k = 0; k < c; k++)); do
        i=0
        while ! grep -q '^held ' "$TMP/c$k.out" 2>/dev/null; do
            if ! kill -0 "${pids[$k]}" 2>/dev/null || [ $i -gt 6000 ]; then
                say "$label: client $k failed: $(cat "$TMP/c$k.err")"
                break
            fi
            sleep 0.1
            i=$((i + 1))
        done
        n=$(awk '/^held / {print $2}' "$TMP/c$k.out")
        held=$((held + ${n:-0}))
        grep '^first error' "$TMP/c$k.out" >&2
    done
    say "$label: $held held after $((SECONDS - t0)) s; settling ${SETTLE} s"
    sleep "$SETTLE"
    after=$(rss_kib "$SPID")
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for ((k = 0; k < c; k++)); do
        wait "${pids[$k]}" 2>/dev/null
        n=$(awk '/^open / {print $2}' "$TMP/c$k.out")
        open=$((open + ${n:-0}))
    done
    CPIDS=""
    [ "$held" -eq "$count" ] && [ "$open" -eq "$count" ] || FAILED=1
    local per=n/a whole=n/a
    if [ "$held" -gt 0 ]; then
        per=$(awk -v a="$after" -v b="$before" -v h="$held" 'BEGIN {printf "%.0f", (a - b) * 1024 / h}')
        whole=$(awk -v a="$after" -v h="$held" 'BEGIN {printf "%.0f", a * 1024 / h}')
    fi
    ROWS+=("$(printf '| %-19s | %7s | %7s | %10s | %10s | %14s | %13s |' \
        "$label" "$held" "$open" "$before" "$after" "$per" "$whole")")
    echo "RESULT idle_rss_per_conn $label $per B/conn lower"
}

# start LABEL PORT CMD...: start a server told its port, wait for it.
start() {
    local label=$1 port=$2
    shift 2
    "${PRLIMIT[@]}" "$@" >"$TMP/server.out" 2>"$TMP/server.err" &
    SPID=$!
    if wait_port "$port"; then
        return 0
    fi
    say "$label did not start: $(head -n 5 "$TMP/server.err")"
    FAILED=1
    stop_server
    return 1
}

want() { case ",$SYSTEMS," in *,"$1",*) return 0 ;; esac; return 1; }

hello_rows() { # DIR NAME [EXTRA ARGUMENT...]
    local p to=() dir=$1 name=$2 a
    shift 2
    # (A base build from before --idle-timeout keeps its 30 s.)
    "$dir/examples/servers/http-hello" --help 2>&1 | grep -q -- --idle-timeout &&
        to=(--idle-timeout 600)
    for a in "$@"; do
        if ! "$dir/examples/servers/http-hello" --help 2>&1 | grep -q -- "$a"; then
            say "no $a in $dir's http-hello: $name skipped"
            return
        fi
    done
    p=$(free_port)
    if start "$name" "$p" "$dir/examples/servers/http-hello" --loops 1 \
        --port "$p" "${to[@]}" "$@"; then
        measure "$name" http "$N" "$p"
        stop_server
    fi
}

chat_rows() { # DIR NAME [EXTRA ARGUMENT...]
    local p dir=$1 name=$2 a
    shift 2
    [ -x "$dir/examples/servers/chat" ] || { say "no chat in $dir (built without actors?)"; return; }
    for a in "$@"; do
        if ! "$dir/examples/servers/chat" --help 2>&1 | grep -q -- "$a"; then
            say "no $a in $dir's chat: $name skipped"
            return
        fi
    done
    p=$(free_port)
    if start "$name" "$p" "$dir/examples/servers/chat" --loops 1 --port "$p" \
        --announce-max 0 "$@"; then
        measure "$name" chat "$CHAT_N" "$p"
        stop_server
    fi
}

GOBIN=${IDLE_GO_BIN:-}
go_bin() {
    if [ -z "$GOBIN" ]; then
        if sh "$HERE/peers/gohttp/build.sh" "$TMP/go" >"$TMP/go.log" 2>&1; then
            GOBIN=$TMP/go/axbench-go-http
        else
            say "Go peer not built: $(tail -n 3 "$TMP/go.log")"
            GOBIN=none
        fi
    fi
    [ "$GOBIN" != none ]
}

want http-hello && hello_rows "$BUILD" http-hello
[ -n "$BASE" ] && want http-hello && hello_rows "$BASE" "http-hello (base)"
want http-hello-shared && hello_rows "$BUILD" http-hello-shared --shared-stacks
want http-hello-park && hello_rows "$BUILD" http-hello-park --park-idle
want http-hello-park-shared &&
    hello_rows "$BUILD" http-hello-park-shared --park-idle --shared-stacks

NGINX=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; })
if want nginx && [ -n "$NGINX" ]; then
    p=$(free_port)
    mkdir -p "$TMP/nginx/logs"
    cat >"$TMP/nginx/nginx.conf" <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections $((2 * N + 256)); }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/cb;
    proxy_temp_path $TMP/nginx/px;
    fastcgi_temp_path $TMP/nginx/fc;
    uwsgi_temp_path $TMP/nginx/uw;
    scgi_temp_path $TMP/nginx/sc;
    keepalive_timeout 600s;
    server {
        listen 127.0.0.1:$p backlog=4096;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
EOF
    if start nginx "$p" "$NGINX" -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" \
        -c "$TMP/nginx/nginx.conf"; then
        measure "nginx" http "$N" "$p"
        stop_server
    fi
elif want nginx; then
    say "nginx not found: skipped (apt-get install nginx-light)"
fi

if want go-http && go_bin; then
    p=$(free_port)
    if start go-http "$p" env GOMAXPROCS=1 "$GOBIN" hello "$p"; then
        measure "go-http" http "$N" "$p"
        stop_server
    fi
fi

want chat && chat_rows "$BUILD" chat
[ -n "$BASE" ] && want chat && chat_rows "$BASE" "chat (base)"
want chat-shared && chat_rows "$BUILD" chat-shared --shared-stacks
want chat-park && chat_rows "$BUILD" chat-park --park-idle
want chat-park-shared &&
    chat_rows "$BUILD" chat-park-shared --park-idle --shared-stacks

if want go-chat && go_bin; then
    p=$(free_port)
    if start go-chat "$p" env GOMAXPROCS=1 "$GOBIN" chat "$p" 0; then
        measure "go-chat" chat "$CHAT_N" "$p"
        stop_server
    fi
fi

echo
echo "Idle keep-alive connections: server RSS (VmRSS, KiB) before and after"
[ -n "$NOTE" ] && echo "(N limited by $NOTE)"
echo
echo "| server              |    held |    open | RSS before |  RSS after | B/conn, growth | B/conn, whole |"
echo "|---------------------|--------:|--------:|-----------:|-----------:|---------------:|--------------:|"
for r in "${ROWS[@]}"; do echo "$r"; done
exit $FAILED
