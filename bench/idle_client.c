/* SPDX-License-Identifier: MIT */
/*
 * idle_client: open N keep-alive connections, make each one exchange one
 * request and its answer, then hold them all idle (bench/idle.sh measures
 * the server's memory meanwhile).
 *
 *   idle_client http|chat PORT N [SOURCES [FIRST_ID]]
 *
 *   http  sends "GET / HTTP/1.1" with keep-alive and reads up to the body
 *         "Hello, World!" (http-hello, nginx, Go net/http, evhttp ...)
 *   chat  reads the welcome line, sends a name ("idle<ID>") and then
 *         "/x", and reads up to the "* commands:" line that the unknown
 *         command gets: the name was taken (the join is an ask to the
 *         room that the reader waits for before its next line), so the
 *         member is in the room (examples/servers/chat and the Go peer)
 *
 * Connections go to 127.0.0.1:PORT. With SOURCES > 1, connection i is made
 * from 127.0.0.(2 + i % SOURCES) (IP_BIND_ADDRESS_NO_PORT: the port is
 * chosen at connect time, per destination), since one source address has
 * only the ephemeral range (~28,000 ports) towards one server port.
 * FIRST_ID numbers the chat names when several clients share a room.
 *
 * 64 tasks each set up connection after connection; a connection that has
 * been answered is taken out of its axon socket (ax_sock_release) and its
 * descriptor kept, so holding costs the client no task and no stack.
 * Once every connection has been tried it prints
 *     held K of N
 * (and the first error when K < N), then holds them until SIGTERM or
 * SIGINT, looks at each (recv with MSG_PEEK: the server has not closed
 * it) and prints
 *     open K
 * before closing them all. Exit status: 0 if all N were held and are still
 * open at the end, 1 otherwise, 2 for a usage error. Every wait during the
 * set-up has a 60 s hang guard.
 */
#define BENCH_NAME "idle_client"
#include "bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define WORKERS 64
#define GUARD 60.0

static bool chat_mode;
static int port, sources;
static long first_id;
static size_t want, next, held, still_open;
static int *fds;
static int first_err;
static size_t first_err_at;

static int connect_to(size_t i, ax_sock **out, int64_t dl)
{
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc, one = 1;
    socklen_t len = sizeof rc;

    if (fd < 0)
        return -errno;
    if (sources > 1) {
        struct sockaddr_in from = {
            .sin_family = AF_INET,
            .sin_addr.s_addr = htonl(INADDR_LOOPBACK + 1 +
                                     (uint32_t)(i % (size_t)sources))};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0) {
            rc = -errno;
            close(fd);
            return rc;
        }
    }
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 &&
        errno != EINPROGRESS) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if ((rc = ax_sock_wrap(fd, out))) {
        close(fd);
        return rc;
    }
    if ((rc = ax_sock_wait_dl(*out, AX_SOCK_WRITABLE, dl)) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &rc, &len) == 0 && rc)
        rc = -rc;
    if (rc) {
        ax_close(*out);
        return rc;
    }
    return 0;
}

/* One connection: connect, one exchange; its descriptor on success. */
static int one(size_t i, int *fd)
{
    static const char get[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "User-Agent: idle_client\r\n\r\n";
    int64_t dl = ax_deadline_in(GUARD);
    ax_sock *s;
    char *line, msg[64];
    size_t len;
    int rc;

    if ((rc = connect_to(i, &s, dl)))
        return rc;
    if (chat_mode) {
        int n = snprintf(msg, sizeof msg, "idle%ld\n/x\n",
                         first_id + (long)i);
        rc = ax_read_until_dl(s, "?\n", &line, &len, 4096, dl);
        if (!rc)
            rc = ax_write_all_dl(s, msg, (size_t)n, dl);
        if (!rc)
            rc = ax_read_until_dl(s, "* commands:", &line, &len, 1 << 20, dl);
        if (!rc)
            rc = ax_read_until_dl(s, "\n", &line, &len, 4096, dl);
    } else {
        rc = ax_write_all_dl(s, get, sizeof get - 1, dl);
        if (!rc)
            rc = ax_read_until_dl(s, "Hello, World!", &line, &len, 4096, dl);
    }
    if (rc) {
        ax_close(s);
        return rc;
    }
    *fd = ax_sock_release(s);
    return *fd < 0 ? *fd : 0;
}

static void *worker(void *arg)
{
    (void)arg;
    while (next < want) {
        size_t i = next++;
        int fd = -1, rc = one(i, &fd);
        if (rc == AX_ECANCELED)
            break;
        if (rc) {
            if (!first_err) {
                first_err = rc;
                first_err_at = i;
            }
            continue;
        }
        fds[i] = fd;
        held++;
    }
    return NULL;
}

static void *main_task(void *arg)
{
    ax_future *futs[WORKERS];
    size_t nw = 0;
    int rc;

    (void)arg;
    if ((rc = ax_stop_on_signals()))
        die("ax_stop_on_signals", rc);
    for (; nw < WORKERS && nw < want; nw++) {
        ax_task *t;
        if ((rc = ax_spawn(&t, worker, NULL)))
            die("ax_spawn", rc);
        futs[nw] = ax_task_future(t);
    }
    ax_gather(futs, nw, NULL);
    for (size_t i = 0; i < nw; i++)
        ax_future_free(futs[i]);
    printf("held %zu of %zu\n", held, want);
    if (held < want && first_err)
        printf("first error (connection %zu): %s\n", first_err_at,
               ax_strerror(first_err));
    fflush(stdout);
    while (ax_sleep(3600) == 0)
        ;
    for (size_t i = 0; i < want; i++) {
        char c;
        if (fds[i] < 0)
            continue;
        ssize_t r = recv(fds[i], &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
            still_open++;
        close(fds[i]);
    }
    printf("open %zu\n", still_open);
    fflush(stdout);
    return NULL;
}

static bool number(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    long p, n, k = 1, id = 0;
    int rc;

    if (argc < 4 || argc > 6 ||
        (strcmp(argv[1], "http") != 0 && strcmp(argv[1], "chat") != 0) ||
        !number(argv[2], 1, 65535, &p) || !number(argv[3], 1, 10000000, &n) ||
        (argc > 4 && !number(argv[4], 1, 250, &k)) ||
        (argc > 5 && !number(argv[5], 0, 1000000000, &id))) {
        fprintf(stderr, "usage: idle_client http|chat PORT N "
                        "[SOURCES [FIRST_ID]]\n");
        return 2;
    }
    chat_mode = argv[1][0] == 'c';
    port = (int)p;
    want = (size_t)n;
    sources = (int)k;
    first_id = id;
    if (!(fds = malloc(want * sizeof *fds)))
        die("malloc", AX_ENOMEM);
    for (size_t i = 0; i < want; i++)
        fds[i] = -1;
    ax_opts opts = {.loops = 1, .stack_size = AX_MIN_STACK_SIZE};
    /* A signal ends the hold by cancelling the main task, so ax_run's
     * AX_ECANCELED is the normal end. */
    rc = ax_run_with(&opts, main_task, NULL, NULL);
    free(fds);
    if (rc && rc != AX_ECANCELED)
        fprintf(stderr, "idle_client: ax_run: %s\n", ax_strerror(rc));
    return (rc == 0 || rc == AX_ECANCELED) && still_open == want ? 0 : 1;
}
