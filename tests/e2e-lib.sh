# SPDX-License-Identifier: MIT
# tests/e2e-lib.sh -- the harness tests/e2e.sh and tests/e2e-hard.sh share:
# PASS/FAIL/SKIP counting, a scratch directory and the processes to kill
# on exit, and starting and stopping one example server at a time.
# Sourced, never run; bash.
#
# The sourcing script sets, before calling anything here:
#   E2E_NAME        its name, for messages ("e2e", "e2e-hard")
#   EXAMPLES_DIR    the built examples (the servers are in servers/)
#   HOST, LOOPS     every server gets --host HOST --port 0 --loops LOOPS
#   E2E_START_PASS  1: a server's "listening on" line is a PASS of its own
#   E2E_STOP_GUARD  stop_server's default hang guard, in 10 ms steps
#   E2E_IGNORE_PIPE 1: SIGPIPE ignored (see e2e_init)
# and then calls e2e_init. The server being driven is in SPID (its pid),
# PORT, SNAME and SERR (its stderr file).

NPASS=0
NFAIL=0
NSKIP=0
PIDS=""
SPID=""
PORT=""
SNAME=""
SERR=/dev/null
NSTART=0

pass() { NPASS=$((NPASS + 1)); echo "PASS: $*"; }
fail() { NFAIL=$((NFAIL + 1)); echo "FAIL: $*"; }
skip() { NSKIP=$((NSKIP + 1)); echo "SKIP: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1: got '$(printf '%s' "$2" | head -c 300)', want '$3'"
    fi
}

e2e_cleanup() {
    local p
    for p in $PIDS; do
        kill -KILL "$p" 2>/dev/null
    done
    exec 3>&- 4>&- 5>&- 6>&- 2>/dev/null
    rm -rf "$TMP"
}

# e2e_init: the scratch directory TMP, removed on exit with every process
# in PIDS killed.
e2e_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/ax-$E2E_NAME.XXXXXX") || exit 1
    trap e2e_cleanup EXIT
    # E2E_IGNORE_PIPE=1: a server that closes on us must not kill the
    # script with SIGPIPE (ignored by the clients it starts too).
    [ "${E2E_IGNORE_PIPE:-0}" = 1 ] && trap "" PIPE
    trap 'echo "$E2E_NAME: interrupted"; exit 1' INT TERM HUP
}

# start_server NAME [ARGS...]: start it (with ARGS after the common
# options), wait (<= 10 s) for "listening on HOST:PORT".
start_server() {
    local name=$1 bin=$EXAMPLES_DIR/servers/$1 out err
    local i=0 line=""
    shift
    # A fresh file per start, made before the server starts: the
    # redirection happens in the child, too late for the loop below.
    NSTART=$((NSTART + 1))
    out=$TMP/$name.$NSTART.out
    err=$TMP/$name.$NSTART.err
    : >"$out"
    : >"$err"
    SERR=$err
    SNAME=$name
    PORT=""
    SPID=""
    if [ ! -x "$bin" ]; then
        fail "$name: $bin not found or not executable"
        return 1
    fi
    # A libtool wrapper script execs the real program: $! is the server.
    "$bin" --host "$HOST" --port 0 --loops "$LOOPS" "$@" >"$out" 2>"$err" &
    SPID=$!
    PIDS="$PIDS $SPID"
    while [ $i -lt 100 ]; do
        if [ -s "$out" ] && [ "$(wc -l <"$out")" -ge 1 ]; then
            line=$(head -n 1 "$out")
            break
        fi
        if ! kill -0 "$SPID" 2>/dev/null; then
            break
        fi
        sleep 0.1
        i=$((i + 1))
    done
    case $line in
    "listening on $HOST:"*)
        PORT=${line##*:}
        case $PORT in
        '' | *[!0-9]*) ;;
        *)
            if [ "$PORT" -gt 0 ]; then
                [ "${E2E_START_PASS:-0}" = 1 ] &&
                    pass "$name: first line '$line'"
                return 0
            fi
            ;;
        esac
        ;;
    esac
    if kill -0 "$SPID" 2>/dev/null; then
        fail "$name $*: no 'listening on $HOST:PORT' line within 10 s (got '$line')"
        backtraces
    else
        wait "$SPID"
        fail "$name $*: exited ($?) without a 'listening on $HOST:PORT' line (got '$line')"
    fi
    show_err
    stop_hard
    return 1
}

show_err() {
    if [ -s "$SERR" ]; then
        echo "----- $SNAME stderr"
        head -n 40 "$SERR"
        echo "-----"
    fi
}

# Where a hung server is stuck: every loop's tasks (the servers print them
# on SIGQUIT) and, when gdb is there, every thread's stack.
backtraces() {
    kill -QUIT "$SPID" 2>/dev/null && sleep 1
    echo "----- $SNAME stderr (end)"
    tail -n 40 "$SERR"
    echo "-----"
    if have gdb; then
        echo "----- $SNAME threads"
        timeout 30 gdb -p "$SPID" -batch -ex 'thread apply all bt' 2>/dev/null |
            grep -E '^#|^Thread' | head -n 80
        echo "-----"
    fi
}

stop_hard() {
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    [ -n "$SPID" ] && wait "$SPID" 2>/dev/null
    SPID=""
}

# stop_server [SIGNAL [GUARD]]: send it (TERM by default); it must exit 0
# (hang guard GUARD x 10 ms, default E2E_STOP_GUARD); the PASS line says
# how long it took.
stop_server() {
    local sig=${1:-TERM} guard=${2:-$E2E_STOP_GUARD} i=0 rc t0 t1
    [ -n "$SPID" ] || return 0
    if ! kill -0 "$SPID" 2>/dev/null; then
        wait "$SPID"
        rc=$?
        fail "$SNAME: died before SIG$sig (exit $rc)"
        show_err
        SPID=""
        return 1
    fi
    t0=$(date +%s%N)
    kill -"$sig" "$SPID"
    while [ $i -lt "$guard" ] && kill -0 "$SPID" 2>/dev/null; do
        sleep 0.01
        i=$((i + 1))
    done
    t1=$(date +%s%N)
    if kill -0 "$SPID" 2>/dev/null; then
        fail "$SNAME: still running $((guard / 100)) s after SIG$sig"
        backtraces
        stop_hard
        return 1
    fi
    wait "$SPID"
    rc=$?
    SPID=""
    if [ $rc -eq 0 ]; then
        pass "$SNAME: SIG$sig -> exit 0 (after $(((t1 - t0) / 1000000)) ms)"
    else
        fail "$SNAME: SIG$sig -> exit $rc, want 0"
        show_err
    fi
}
