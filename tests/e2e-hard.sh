#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/e2e-hard.sh -- the example servers on bad days: floods, failing
# actors, hostile clients, signals under load.
#
# Run by `make check` (EXAMPLES_DIR and AX_TOP_BUILDDIR set); by hand:
#
#   EXAMPLES_DIR=B/examples AX_TOP_BUILDDIR=B bash tests/e2e-hard.sh
#
# What it checks (each a PASS/FAIL/SKIP line):
#   chat  1,500 members leaving at once with every leave announced (the
#         old broadcast->sweep recursion overflowed the room's stack);
#         10,000 members joining and leaving at once (RLIMIT_NOFILE raised
#         for the server and the client; SKIP where it cannot be); a room
#         that fails (--debug, /debug-crash-room) is restarted by its
#         supervisor and serves new members; SIGTERM while a member's
#         ask waits for the room (--debug, /debug-stall-room) stops it;
#   kv    pipelined batches split at every byte boundary, bigger than
#         a read, with garbage or QUIT in the middle: every reply right
#         and in order (--loops 1 and 2); a command name with CR/LF gets
#         exactly one reply (the next request still gets its own);
#         DEBUG CRASH-SHARD: the client gets an error reply, the other
#         shard's keys are still there, the server goes on;
#         --output-limit closes a client whose replies pile up; --timeout
#         closes an idle client; SIGTERM while clients keep talking stops
#         the server, exit 0 (leaks fail it under ASan);
#   faults  while another client holds 500 idle connections, sends
#         garbage, resets and stalls mid-request, a good client's 3000
#         SETs and GETs all get the right answers;
#   aof   kill -9 under --appendfsync always: every acknowledged SET is
#         there after the restart; BGREWRITEAOF keeps them and a SET made
#         meanwhile; a truncated last record is reported and skipped; a
#         write error (/dev/full) gives an error reply and a log line;
#   http  a body trickled a byte a second is cut by --request-timeout;
#         chunk data not followed by CRLF -> 400.
# Timeouts here are hang guards, not assertions; the time a stop took is
# printed. Needs bash's /dev/tcp and coreutils timeout; redis-cli parts
# SKIP without it. Exit status: 0 all passed, 1 something failed, 77
# nothing could run.
set -u

EXAMPLES_DIR=${EXAMPLES_DIR:-./examples}
BUILD=${AX_TOP_BUILDDIR:-.}
CLIENT=$BUILD/tests/srvclient
LOOPS=${AX_E2E_LOOPS:-2}
HOST=127.0.0.1
FLOOD=${AX_CHAT_FLOOD:-10000}

E2E_NAME=e2e-hard
E2E_START_PASS=0
E2E_STOP_GUARD=1000
E2E_IGNORE_PIPE=1 # a server that closes on us must not kill the script
# shellcheck source=tests/e2e-lib.sh
. "$(dirname "$0")/e2e-lib.sh" || { echo "FAIL: e2e-hard: cannot read $(dirname "$0")/e2e-lib.sh"; exit 1; }
# The suite runs this in its default and asan configurations; the others
# set AX_E2E_HARD=0 (the servers' code is the same there, and the floods
# cost minutes per configuration). It skips after reading e2e-lib.sh, so
# that the suite's distcheck, which runs it skipped, proves the harness
# both scripts share is in the tarball.
if [ "${AX_E2E_HARD:-1}" = 0 ]; then
    echo "SKIP: e2e-hard: AX_E2E_HARD=0 (run in the suite's default and asan configurations)"
    exit 77
fi
e2e_init

if ! have timeout; then
    echo "e2e-hard: coreutils timeout not found: skipped"
    exit 77
fi
if [ ! -x "$CLIENT" ]; then
    echo "e2e-hard: $CLIENT not built: skipped"
    exit 77
fi

# start_server, show_err, stop_server [SIGNAL [GUARD]]: e2e-lib.sh (a
# server must exit 0 within the hang guard, GUARD x 10 ms, default 10 s;
# the time it took is printed).

alive() {
    if kill -0 "$SPID" 2>/dev/null; then
        pass "$SNAME: still running after $1"
        return 0
    fi
    fail "$SNAME: died during $1"
    show_err
    SPID=""
    return 1
}

# A file descriptor limit for this shell and its children.
raise_nofile() {
    local want=$1 hard
    [ "$(ulimit -n)" = unlimited ] && return 0
    [ "$(ulimit -n)" -ge "$want" ] && return 0
    hard=$(ulimit -H -n)
    if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
        ulimit -n "$want" 2>/dev/null && return 0
    fi
    return 1
}

# ---------------------------------------------------------------------------
# chat

# flood N [SERVER ARGS...]
flood() {
    local n=$1 rc out
    shift
    start_server chat "$@" || return
    out=$(timeout 600 "$CLIENT" chat-flood "$HOST" "$PORT" "$n" 2>&1)
    rc=$?
    printf '%s\n' "$out" | sed 's/^/  /'
    case $rc in
    0) pass "chat: $n members joined and left at once ($*)" ;;
    77) skip "chat: $n members: $(printf '%s' "$out" | grep SKIP | head -n 1)" ;;
    *) fail "chat: $n members joining and leaving at once ($*): exit $rc" ;;
    esac
    alive "$n members leaving at once" && stop_server TERM
}

# hold N [SERVER ARGS...]: SIGTERM with N members in the room.
hold() {
    local n=$1 cp i=0
    shift
    start_server chat "$@" || return
    timeout 600 "$CLIENT" chat-hold "$HOST" "$PORT" "$n" >"$TMP/hold" 2>&1 &
    cp=$!
    PIDS="$PIDS $cp"
    while [ $i -lt 3000 ] && ! grep -q -e holding -e FAIL "$TMP/hold"; do
        sleep 0.1
        i=$((i + 1))
    done
    if grep -q holding "$TMP/hold"; then
        # Ten thousand connections are closed one by one: seconds on a
        # busy machine (printed). The guard is for a hang only.
        stop_server TERM 6000
        if wait "$cp"; then
            pass "chat: SIGTERM with $n members closed every connection"
        else
            fail "chat: SIGTERM with $n members: $(tail -n 1 "$TMP/hold")"
        fi
    else
        fail "chat: $n members never all in: $(tail -n 1 "$TMP/hold")"
        kill "$cp" 2>/dev/null
        stop_server TERM
    fi
}

test_chat() {
    local line a=5 b=6
    # Every leave announced: the old code recursed once per member gone.
    # (Mailboxes large enough that a busy machine does not make members
    # "too slow": this is about leaving, not about slow readers.)
    flood 1500 --announce-max 100000 --mailbox 4096
    if raise_nofile $((FLOOD + 200)); then
        flood "$FLOOD" --mailbox 4096
        hold "$FLOOD" --mailbox 4096
    else
        skip "chat: $FLOOD members: RLIMIT_NOFILE $(ulimit -n), hard $(ulimit -H -n): cannot raise it to $((FLOOD + 200))"
    fi
    # The room fails; its supervisor restarts it.
    start_server chat --debug || return
    exec 5<>"/dev/tcp/$HOST/$PORT" 6<>"/dev/tcp/$HOST/$PORT"
    printf 'ann\n' >&5
    printf 'bob\n' >&6
    sleep 0.3
    printf '/debug-crash-room\n' >&6
    sleep 0.3
    printf 'hello?\n' >&5
    line=""
    while IFS= read -r -t 5 line <&5; do
        case $line in *restarted*) break ;; esac
    done
    case $line in
    *"room restarted"*) pass "chat: a member of the failed room is told '$line'" ;;
    *) fail "chat: after the room failed, a member got '$line'" ;;
    esac
    exec 5>&- 6>&-
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'carol\n/who\n' >&5
    line=""
    while IFS= read -r -t 5 line <&5; do
        case $line in *online:*) break ;; esac
    done
    expect_eq "chat: the restarted room serves a new member" "$line" "* 1 online: carol"
    exec 5>&-
    grep -q "room" "$SERR" || true
    alive "a room failure" && stop_server TERM
    : $a $b

    # SIGTERM while a member's ask waits for the room's answer (the room
    # holds it 2 s, after saying so): the answer must not swallow the
    # cancellation, or the member's reader goes back to its socket and the
    # stop waits for it for ever (the hang seen with thousands of members,
    # whose /who was in flight).
    start_server chat --debug || return
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'dan\n/debug-stall-room\n' >&5
    line=""
    while IFS= read -r -t 10 line <&5; do
        case $line in *stalls*) break ;; esac
    done
    case $line in
    *stalls*) stop_server TERM ;;
    *) fail "chat: /debug-stall-room: got '$line'"
       stop_server TERM ;;
    esac
    exec 5>&-
}

# ---------------------------------------------------------------------------
# kv-server

# resp FD: read one RESP reply line from FD (5 s guard), CR stripped.
resp() {
    local l=""
    IFS= read -r -t 5 l <&"$1"
    printf '%s' "${l%$'\r'}"
}

test_kv() {
    local out n i t0 l

    # Pipelined batches (srvclient kv-pipe): split at every byte, a byte
    # at a time, bigger than a read and than a batch, garbage and QUIT in
    # the middle; replies byte for byte, in order. One loop: every command
    # is a direct call on the connection's own shard; two: asks and direct
    # calls mixed in one batch.
    for l in 1 2; do
        start_server kv-server --loops "$l" || return
        out=$(timeout 120 "$CLIENT" kv-pipe "$HOST" "$PORT" 3000 2>&1)
        if [ $? -eq 0 ]; then
            pass "kv --loops $l: pipelined batches answered in order"
        else
            fail "kv --loops $l: pipelined batches: $(printf '%s' "$out" | grep FAIL | head -n 1)"
        fi
        printf '%s\n' "$out" | sed 's/^/  /'
        alive "pipelined batches" && stop_server TERM
    done

    # One request, one reply, whatever the command name holds.
    start_server kv-server || return
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf '*1\r\n$8\r\nFOO\r\nBAR\r\n*1\r\n$4\r\nPING\r\n' >&5
    expect_eq "kv: a command name with CR LF: one error reply" "$(resp 5)" \
        "-ERR unknown command 'FOO  BAR'"
    expect_eq "kv: ... and the next request gets its own reply" "$(resp 5)" "+PONG"
    printf '*2\r\n$5\r\nDEBUG\r\n$1\r\nx\r\n' >&5
    case $(resp 5) in
    "-ERR DEBUG is off"*) pass "kv: DEBUG refused without --debug" ;;
    *) fail "kv: DEBUG without --debug was not refused" ;;
    esac
    exec 5>&-
    stop_server TERM

    # A shard fails; its supervisor restarts it, the other shard keeps its
    # keys, and every connection goes on.
    start_server kv-server --debug || return
    exec 5<>"/dev/tcp/$HOST/$PORT" 6<>"/dev/tcp/$HOST/$PORT"
    for i in $(seq 1 40); do
        printf '*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n' $((${#i} + 1)) "$i" >&5
    done
    n=0
    for i in $(seq 1 40); do
        [ "$(resp 5)" = "+OK" ] && n=$((n + 1))
    done
    expect_eq "kv: 40 SETs" "$n" 40
    printf '*3\r\n$5\r\nDEBUG\r\n$11\r\nCRASH-SHARD\r\n$1\r\n0\r\n' >&6
    case $(resp 6) in
    "-ERR shard failed"*) pass "kv: DEBUG CRASH-SHARD 0 -> error reply" ;;
    *) fail "kv: DEBUG CRASH-SHARD 0: no error reply" ;;
    esac
    # Until the supervisor has started the new shard, its clients get the
    # same error: ask again for a while.
    i=0
    while [ $i -lt 50 ]; do
        printf '*1\r\n$6\r\nDBSIZE\r\n' >&5
        out=$(resp 5)
        case $out in "-ERR shard failed"*) sleep 0.1 ;; *) break ;; esac
        i=$((i + 1))
    done
    case $out in
    :[1-9]*) if [ "${out#:}" -lt 40 ]; then
                 pass "kv: after shard 0 failed, the other shard's keys remain ($out of 40)"
             else
                 fail "kv: after shard 0 failed, DBSIZE $out (shard 0's keys were not lost?)"
             fi ;;
    *) fail "kv: DBSIZE after a shard failed: '$out'" ;;
    esac
    printf '*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$1\r\nw\r\n*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n' >&6
    expect_eq "kv: SET after the restart" "$(resp 6)" "+OK"
    resp 6 >/dev/null
    expect_eq "kv: GET after the restart" "$(resp 6)" "w"
    exec 5>&- 6>&-
    alive "a shard failure" && stop_server TERM

    # Replies that pile up: the client is closed, the others are served.
    start_server kv-server --output-limit 1M || return
    exec 5<>"/dev/tcp/$HOST/$PORT"
    # The 16 GETs in one write, so that they arrive together and are one
    # batch (the limit is on one batch's replies): a printf each let a
    # fast server read them one at a time and send each 256 KiB reply on
    # its own, and the test waited for a close that never came.
    gets=""
    for i in $(seq 1 16); do gets="$gets*2\r\n\$3\r\nGET\r\n\$3\r\nbig\r\n"; done
    {
        printf '*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$262144\r\n'
        head -c 262144 /dev/zero | tr '\0' x
        printf '\r\n'
        printf "$gets"
    } >&5 2>/dev/null
    if timeout 10 cat <&5 >"$TMP/big" 2>/dev/null; then
        n=$(wc -c <"$TMP/big")
        if [ "$n" -lt $((16 * 262144)) ]; then
            pass "kv: --output-limit 1M closed a client with 4M of replies pending ($n bytes sent)"
        else
            fail "kv: --output-limit 1M: $n bytes of replies sent"
        fi
    else
        fail "kv: --output-limit 1M: the connection was not closed"
    fi
    exec 5>&-
    if grep -q "output-limit" "$SERR"; then
        pass "kv: the close is logged"
    else
        fail "kv: no log line for the output limit"
    fi
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'PING\r\n' >&5
    expect_eq "kv: another client is served" "$(resp 5)" "+PONG"
    exec 5>&-
    stop_server TERM

    # An idle client is closed (--timeout 1; a 10 s guard).
    start_server kv-server --timeout 1 || return
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'PING\r\n' >&5
    resp 5 >/dev/null
    if timeout 10 cat <&5 >/dev/null 2>&1; then
        pass "kv: --timeout 1 closed an idle client"
    else
        fail "kv: --timeout 1: an idle client still open after 10 s"
    fi
    exec 5>&-
    stop_server TERM

    # SIGTERM while 20 clients keep fan-out commands in flight.
    start_server kv-server || return
    timeout 300 "$CLIENT" kv-talk "$HOST" "$PORT" 20 >"$TMP/talk" 2>&1 &
    t0=$!
    PIDS="$PIDS $t0"
    i=0
    while [ $i -lt 100 ] && ! grep -q talking "$TMP/talk"; do
        sleep 0.1
        i=$((i + 1))
    done
    if grep -q talking "$TMP/talk"; then
        sleep 0.5
        stop_server TERM
        wait "$t0"
        i=$?
        if [ $i -eq 0 ]; then
            pass "kv: the server closed every busy connection on SIGTERM"
        else
            fail "kv: SIGTERM under load: client exit $i: $(tail -n 1 "$TMP/talk")"
        fi
    else
        fail "kv: the load never started: $(cat "$TMP/talk")"
        kill "$t0" 2>/dev/null
        stop_server TERM
    fi
}

# ---------------------------------------------------------------------------
# kv-server with a bad crowd: the good client's answers are all right.

test_faults() {
    local fp i=0 out
    start_server kv-server || return
    timeout 300 "$CLIENT" faults "$HOST" "$PORT" 500 >"$TMP/faults" 2>&1 &
    fp=$!
    PIDS="$PIDS $fp"
    while [ $i -lt 300 ] && ! grep -q "idle connections held" "$TMP/faults"; do
        sleep 0.1
        i=$((i + 1))
    done
    out=$(timeout 120 "$CLIENT" kv-acked "$HOST" "$PORT" 3000 2>&1)
    expect_eq "kv under faults: 3000 SETs acknowledged" "$out" "acked 3000"
    out=$(timeout 120 "$CLIENT" kv-check "$HOST" "$PORT" 3000 2>&1)
    if [ $? -eq 0 ]; then
        pass "kv under faults: all 3000 GETs right"
    else
        fail "kv under faults: $out"
    fi
    kill -TERM "$fp" 2>/dev/null
    wait "$fp"
    echo "  $(tail -n 1 "$TMP/faults")"
    alive "garbage, resets, stalls and 500 idle connections" && stop_server TERM
}

# ---------------------------------------------------------------------------
# kv-server --aof

test_aof() {
    local f=$TMP/kv.aof out n cp i=0

    # kill -9 while a client writes under --appendfsync always: every
    # acknowledged SET is there after the restart.
    start_server kv-server --aof "$f" --appendfsync always || return
    timeout 120 "$CLIENT" kv-acked "$HOST" "$PORT" 100000000 >"$TMP/acked" 2>&1 &
    cp=$!
    PIDS="$PIDS $cp"
    sleep 2
    kill -KILL "$SPID"
    wait "$SPID" 2>/dev/null
    SPID=""
    wait "$cp"
    n=$(sed -n 's/^acked //p' "$TMP/acked")
    case $n in
    '' | 0) fail "kv --aof: no write acknowledged before kill -9 ($(cat "$TMP/acked"))"; return ;;
    esac
    start_server kv-server --aof "$f" || return
    out=$("$CLIENT" kv-check "$HOST" "$PORT" "$n" 2>&1)
    if [ $? -eq 0 ]; then
        pass "kv --aof always: all $n SETs acknowledged before kill -9 are there after the restart"
    else
        fail "kv --aof always: $out"
    fi
    # BGREWRITEAOF, then a restart: the same keys.
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'BGREWRITEAOF\r\n' >&5
    expect_eq "kv: BGREWRITEAOF" "$(resp 5)" "+Background append only file rewriting started"
    printf 'SET during rewrite\r\n' >&5
    resp 5 >/dev/null
    exec 5>&-
    while [ $i -lt 100 ] && ! grep -q rewritten "$SERR"; do
        sleep 0.1
        i=$((i + 1))
    done
    if grep -q "rewritten" "$SERR"; then pass "kv: the AOF was rewritten in the background"; else fail "kv: no 'rewritten' line"; fi
    stop_server TERM
    # A record cut short by a crash: reported, skipped, the server starts.
    printf '*3\r\n$3\r\nSET\r\n$1\r\nz' >>"$f"
    start_server kv-server --aof "$f" || return
    if grep -q "incomplete.*skipped" "$SERR"; then
        pass "kv --aof: a truncated last record is reported: $(grep incomplete "$SERR" | head -n 1 | cut -c1-100)..."
    else
        fail "kv --aof: the truncated last record was not reported"
        show_err
    fi
    out=$("$CLIENT" kv-check "$HOST" "$PORT" "$n" 2>&1)
    if [ $? -eq 0 ]; then pass "kv --aof: after rewrite and truncation, all $n keys there"; else fail "kv --aof after rewrite: $out"; fi
    expect_eq "kv: the SET made during the rewrite is there" "$(timeout 10 redis-cli -h "$HOST" -p "$PORT" GET during 2>&1)" "rewrite"
    stop_server TERM
    # A write that fails (/dev/full: ENOSPC): an error reply and a log line.
    if [ -w /dev/full ]; then
        start_server kv-server --aof /dev/full --appendfsync always || return
        exec 5<>"/dev/tcp/$HOST/$PORT"
        printf 'SET a b\r\n' >&5
        expect_eq "kv --aof /dev/full: SET -> error reply" "$(resp 5)" \
            "-ERR append-only file write failed: No space left on device"
        printf 'PING\r\n' >&5
        expect_eq "kv --aof /dev/full: the connection goes on" "$(resp 5)" "+PONG"
        exec 5>&-
        if grep -q "write failed: No space left" "$SERR"; then pass "kv --aof /dev/full: logged"; else fail "kv --aof /dev/full: no log line"; fi
        stop_server TERM
    else
        skip "kv --aof: /dev/full not writable here"
    fi
}

# ---------------------------------------------------------------------------
# http-hello

test_http() {
    local out t0 t1 i

    start_server http-hello --request-timeout 2 || return
    # A body trickled a byte a second (100 bytes announced).
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n' >&5
    (for i in $(seq 1 100); do printf x; sleep 1; done >&5) 2>/dev/null &
    t1=$!
    PIDS="$PIDS $t1"
    t0=$(date +%s)
    if timeout 20 cat <&5 >/dev/null 2>&1; then
        pass "http: a body trickled a byte a second is cut by --request-timeout 2 (after $(($(date +%s) - t0)) s)"
    else
        fail "http: a trickled body still open after 20 s"
    fi
    kill "$t1" 2>/dev/null
    exec 5>&-
    # Chunk data not followed by CRLF.
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n' >&5
    out=$(timeout 10 head -n 1 <&5)
    expect_eq "http: chunk data without its CRLF -> 400" "${out%$'\r'}" "HTTP/1.1 400 Bad Request"
    exec 5>&-
    # A well-formed chunked body still works.
    exec 5<>"/dev/tcp/$HOST/$PORT"
    printf 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n' >&5
    out=$(timeout 10 head -n 1 <&5)
    expect_eq "http: a well-formed chunked body -> 200" "${out%$'\r'}" "HTTP/1.1 200 OK"
    exec 5>&-
    alive "bad bodies" && stop_server TERM
}

# ---------------------------------------------------------------------------

echo "e2e-hard: examples in $EXAMPLES_DIR, --loops $LOOPS"
test_http
if [ "${AX_HAVE_ACTORS:-1}" = 1 ]; then
    test_kv
    test_faults
    if have redis-cli; then test_aof; else skip "kv --aof: redis-cli not found"; fi
    test_chat
else
    skip "kv-server, chat: the library was configured --disable-actors"
fi
echo "e2e-hard: $NPASS passed, $NFAIL failed, $NSKIP skipped"
[ $NFAIL -eq 0 ] || exit 1
[ $NPASS -gt 0 ] || exit 77
exit 0
