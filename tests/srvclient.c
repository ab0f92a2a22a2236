/* SPDX-License-Identifier: MIT */
/*
 * tests/srvclient: client-side drivers for tests/e2e-hard.sh, in plain C
 * (no axon) so that they test the servers rather than share their bugs.
 *
 *   srvclient chat-flood HOST PORT N
 *       N chat clients join (each reads everything it is sent), then all
 *       of them close at the same moment; a probe client must then see
 *       "* 1 online" from /who. Exit 0 when the server survived, 1 if not,
 *       77 when N descriptors cannot be had (RLIMIT_NOFILE).
 *
 *   srvclient chat-hold HOST PORT N
 *       As chat-flood, but the N members stay (reading) until the server
 *       closes every connection (it was told to stop): exit 0 then.
 *
 *   srvclient kv-talk HOST PORT N
 *       N RESP clients that never stop talking: each keeps a pipeline of
 *       MSET and MGET (fan-out commands, several shards) in flight and
 *       reads every reply. Prints "talking" once all of them got replies,
 *       then runs until the server has closed every connection; exit 0
 *       then, 1 if the guard ran out first.
 *
 *   srvclient kv-acked HOST PORT N
 *       SET k<i> v<i> for i = 0, 1, ... (windows of 16 pipelined) until
 *       the server goes away or N are acknowledged; prints "acked K": the
 *       first K keys were acknowledged (+OK, in order).
 *
 *   srvclient kv-check HOST PORT K
 *       GET k0 .. k<K-1>: exit 0 if every one has its value v<i>, else
 *       print the first missing one and exit 1.
 *
 *   srvclient kv-pipe HOST PORT N
 *       Pipelined batches whose replies must come back byte for byte, in
 *       order: a batch mixing SET, GET, INCR, MGET, DEL, unknown commands,
 *       wrong arities, inline and multibulk requests, sent whole, split
 *       in two at every byte boundary and a byte at a time; a batch of N
 *       SET+GET pairs with unknown commands and PINGs among them (bigger
 *       than the server's read buffer and its batch of 1,024 commands);
 *       garbage in the middle of a batch (the replies before it, then
 *       the protocol error, then the close) and QUIT in the middle of one
 *       (nothing answered after it). Exit 0 if all were right, else 1
 *       after a FAIL line naming the first byte that differed.
 *
 *   srvclient faults HOST PORT N
 *       A bad crowd, until SIGTERM or the guard: N idle connections held
 *       open, and in a loop connections that send garbage, that reset in
 *       the middle of a request, and that stall half way through one
 *       (held, up to N more). Prints what it did when it stops; exit 0.
 *
 * Output: progress lines "srvclient: ..." on stdout. Every wait has a hang
 * guard (AX_SRV_GUARD seconds, default 300), never a timed assertion.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double guard_s = 300;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(const char *fmt, ...)
{
    va_list ap;

    printf("srvclient: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static int dial(const char *host, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((unsigned short)port)};
    int fd;

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read from a blocking fd into buf until @p want appears (or the guard). */
static bool read_until(int fd, char *buf, size_t cap, size_t *len,
                       const char *want, double deadline)
{
    while (!memmem(buf, *len, want, strlen(want))) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - now()) * 1000);
        ssize_t r;
        if (ms <= 0 || poll(&p, 1, ms) <= 0)
            return false;
        if (*len + 1 >= cap) { /* keep the tail only */
            memmove(buf, buf + cap / 2, *len - cap / 2);
            *len -= cap / 2;
        }
        r = recv(fd, buf + *len, cap - 1 - *len, 0);
        if (r <= 0)
            return false;
        *len += (size_t)r;
        buf[*len] = '\0';
    }
    return true;
}

/* /who on the probe until "* N online" comes back. */
static bool wait_online(int probe, size_t n, double deadline)
{
    char want[64], buf[1 << 16];
    size_t len = 0;

    snprintf(want, sizeof want, "* %zu online:", n);
    while (now() < deadline) {
        if (!send_all(probe, "/who\n", 5))
            return false;
        len = 0;
        if (read_until(probe, buf, sizeof buf, &len, want, now() + 0.5))
            return true;
    }
    return false;
}

static int chat_flood(const char *host, int port, size_t n, bool hold)
{
    struct rlimit rl;
    double deadline = now() + guard_s;
    int *fds, ep, probe;
    size_t joined = 0;
    char name[32], buf[65536];
    size_t plen = 0;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n + 64) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= n + 64
                          ? n + 64
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < n + 64) {
            say("SKIP: RLIMIT_NOFILE %llu < %zu", (unsigned long long)rl.rlim_cur,
                n + 64);
            return 77;
        }
    }
    if (!(fds = calloc(n, sizeof *fds)) || (ep = epoll_create1(0)) < 0)
        return 1;
    if ((probe = dial(host, port)) < 0) {
        say("FAIL: cannot connect the probe: %s", strerror(errno));
        return 1;
    }
    if (!send_all(probe, "probe\n", 6) ||
        !read_until(probe, buf, sizeof buf, &plen, "joined", deadline)) {
        say("FAIL: the probe did not join");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        int len = snprintf(name, sizeof name, "flood%zu\n", i);
        if ((fds[i] = dial(host, port)) < 0) {
            say("FAIL: connect #%zu: %s", i, strerror(errno));
            return 1;
        }
        if (!send_all(fds[i], name, (size_t)len)) {
            say("FAIL: send #%zu: %s", i, strerror(errno));
            return 1;
        }
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
        joined++;
        /* Read what the room sends meanwhile (the probe too), so that
         * nobody is too slow and disconnected. */
        if (i % 16 == 15 || i + 1 == n) {
            while (recv(probe, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
            struct epoll_event evs[256];
            int k = epoll_wait(ep, evs, 256, 0);
            for (int e = 0; e < k; e++)
                while (recv(fds[evs[e].data.u64], buf, sizeof buf, 0) > 0)
                    ;
        }
    }
    say("%zu clients connected and named", joined);
    /* Wait for all of them to be in, reading the flood meanwhile. */
    {
        char want[64];
        bool in = false;
        snprintf(want, sizeof want, "* %zu online:", n + 1);
        while (!in && now() < deadline) {
            struct epoll_event evs[256];
            int k = epoll_wait(ep, evs, 256, 100);
            for (int e = 0; e < k; e++)
                while (recv(fds[evs[e].data.u64], buf, sizeof buf, 0) > 0)
                    ;
            while (recv(probe, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ;
            if (!send_all(probe, "/who\n", 5))
                break;
            plen = 0;
            in = read_until(probe, buf, sizeof buf, &plen, want, now() + 0.2);
        }
        if (!in) {
            char *w = strstr(buf, "online:");
            say("FAIL: '%s' never seen (last: '%.40s')", want,
                w && w - buf > 10 ? w - 10 : buf);
            return 1;
        }
    }
    if (hold) {
        /* chat-hold: stay, reading, until the server closes everyone. */
        size_t open_n = n + 1;
        say("%zu members online; holding", n + 1);
        deadline = now() + guard_s; /* the guard starts again for the stop */
        fcntl(probe, F_SETFL, fcntl(probe, F_GETFL) | O_NONBLOCK);
        for (size_t i = 0; i <= n; i++) {
            int fd = i < n ? fds[i] : probe;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
            if (i == n)
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        while (open_n && now() < deadline) {
            struct epoll_event evs[256];
            int k = epoll_wait(ep, evs, 256, 100);
            for (int e = 0; e < k; e++) {
                size_t i = evs[e].data.u64;
                int fd = i < n ? fds[i] : probe;
                ssize_t r;
                while ((r = recv(fd, buf, sizeof buf, 0)) > 0)
                    ;
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                    open_n--;
                }
            }
        }
        close(ep);
        free(fds);
        if (open_n) {
            say("FAIL: %zu connections still open", open_n);
            return 1;
        }
        say("every connection closed by the server");
        return 0;
    }
    say("%zu members online; all leave at once", n + 1);
    /* Reset rather than FIN: everyone gone in the same instant. */
    for (size_t i = 0; i < n; i++) {
        struct linger lg = {1, 0};
        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(fds[i]);
    }
    if (!wait_online(probe, 1, deadline)) {
        say("FAIL: the room did not come back to '* 1 online' "
            "(server dead or stuck)");
        return 1;
    }
    say("the room is down to the probe and still answers");
    close(probe);
    close(ep);
    free(fds);
    return 0;
}

static int kv_talk(const char *host, int port, size_t n)
{
    static const char batch[] =
        "*7\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
        "$1\r\nc\r\n$1\r\n3\r\n"
        "*4\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";
    double deadline = now() + guard_s;
    int *fds = calloc(n, sizeof *fds);
    bool *got = calloc(n, sizeof *got);
    size_t open_n = n, replied = 0;
    unsigned long long bytes = 0;
    char buf[65536];

    if (!fds || !got)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if ((fds[i] = dial(host, port)) < 0) {
            say("FAIL: connect #%zu: %s", i, strerror(errno));
            return 1;
        }
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    while (open_n && now() < deadline) {
        for (size_t i = 0; i < n; i++) {
            ssize_t r;
            if (fds[i] < 0)
                continue;
            /* Keep the socket's send buffer full of requests. */
            while (send(fds[i], batch, sizeof batch - 1, MSG_NOSIGNAL) > 0)
                ;
            while ((r = recv(fds[i], buf, sizeof buf, 0)) > 0) {
                bytes += (unsigned long long)r;
                if (!got[i]) {
                    got[i] = true;
                    if (++replied == n)
                        say("talking: %zu connections", n);
                }
            }
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                close(fds[i]);
                fds[i] = -1;
                open_n--;
            }
        }
        usleep(1000);
    }
    if (open_n) {
        say("FAIL: %zu of %zu connections still open", open_n, n);
        return 1;
    }
    say("every connection closed by the server (%llu reply bytes)", bytes);
    free(fds);
    free(got);
    return 0;
}

/* Read one reply line (without CRLF) from a blocking fd, buffered. */
typedef struct lr {
    int fd;
    char b[65536];
    size_t pos, len;
} lr;

static int read_line(lr *r, char *out, size_t cap)
{
    size_t n = 0;

    for (;;) {
        if (r->pos == r->len) {
            ssize_t k = recv(r->fd, r->b, sizeof r->b, 0);
            if (k <= 0)
                return -1;
            r->pos = 0;
            r->len = (size_t)k;
        }
        char ch = r->b[r->pos++];
        if (ch == '\n') {
            if (n && out[n - 1] == '\r')
                n--;
            out[n] = '\0';
            return 0;
        }
        if (n + 1 < cap)
            out[n++] = ch;
    }
}

static int kv_acked(const char *host, int port, long n)
{
    static lr r;
    char cmd[128], line[256];
    long acked = 0;
    int fd = dial(host, port);

    if (fd < 0) {
        say("FAIL: connect: %s", strerror(errno));
        return 1;
    }
    r.fd = fd;
    while (acked < n) {
        long w = n - acked < 16 ? n - acked : 16;
        bool ok = true;
        for (long i = acked; i < acked + w && ok; i++) {
            int k = snprintf(cmd, sizeof cmd, "SET k%ld v%ld\r\n", i, i);
            ok = send_all(fd, cmd, (size_t)k);
        }
        for (long i = 0; i < w && ok; i++) {
            if (read_line(&r, line, sizeof line) || strcmp(line, "+OK")) {
                ok = false;
                break;
            }
            acked++;
        }
        if (!ok)
            break;
    }
    printf("acked %ld\n", acked);
    close(fd);
    return 0;
}

static int kv_check(const char *host, int port, long n)
{
    static lr r;
    char cmd[128], line[256], want[64];
    int fd = dial(host, port);

    if (fd < 0) {
        say("FAIL: connect: %s", strerror(errno));
        return 1;
    }
    r.fd = fd;
    for (long i = 0; i < n; i += 64) {
        long w = n - i < 64 ? n - i : 64;
        for (long k = i; k < i + w; k++) {
            int len = snprintf(cmd, sizeof cmd, "GET k%ld\r\n", k);
            if (!send_all(fd, cmd, (size_t)len))
                return 1;
        }
        for (long k = i; k < i + w; k++) {
            snprintf(want, sizeof want, "v%ld", k);
            if (read_line(&r, line, sizeof line) || line[0] != '$' ||
                read_line(&r, line, sizeof line) || strcmp(line, want)) {
                say("FAIL: k%ld: acknowledged, not there after the restart",
                    k);
                return 1;
            }
        }
    }
    say("all %ld acknowledged keys are there", n);
    close(fd);
    return 0;
}

/* A growing byte string: a batch of requests, or the replies it must get. */
typedef struct sb {
    char *p;
    size_t len, cap;
} sb;

static void sb_add(sb *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        if (!(b->p = realloc(b->p, cap))) {
            say("FAIL: out of memory");
            exit(1);
        }
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void sb_printf(sb *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
}

/* A RESP multibulk request of argc words. */
static void sb_cmd(sb *b, int argc, ...)
{
    va_list ap;

    sb_printf(b, "*%d\r\n", argc);
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) {
        const char *w = va_arg(ap, const char *);
        sb_printf(b, "$%zu\r\n", strlen(w));
        sb_add(b, w, strlen(w));
        sb_add(b, "\r\n", 2);
    }
    va_end(ap);
}

/* Send req[0..split) (if split), then the rest, reading meanwhile (a big
 * batch's replies fill the socket buffers before its requests are all
 * sent); the replies must be exactly want[0..wlen), followed by the end
 * of the stream if @p eof. @return true if so, else says what differed. */
static bool exchange(int fd, const char *what, const char *req, size_t rlen,
                     size_t split, const char *want, size_t wlen, bool eof)
{
    double deadline = now() + guard_s;
    size_t sent = 0, got = 0;
    char buf[65536];

    if (split) {
        if (!send_all(fd, req, split))
            goto io;
        usleep(200); /* lets the server read the first part alone (likely,
                        not needed: the answer must be the same anyway) */
        sent = split;
    }
    while (got < wlen || eof) {
        struct pollfd p = {.fd = fd,
                           .events = POLLIN | (sent < rlen ? POLLOUT : 0)};
        int ms = (int)((deadline - now()) * 1000);
        ssize_t r;
        if (ms <= 0 || poll(&p, 1, ms) <= 0) {
            say("FAIL: %s: no reply after %zu of %zu bytes (guard)", what,
                got, wlen);
            return false;
        }
        if ((p.revents & POLLOUT) && sent < rlen) {
            r = send(fd, req + sent, rlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0)
                sent += (size_t)r;
            else if (r < 0 && errno != EAGAIN && errno != EINTR)
                goto io;
        }
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r == 0 && got == wlen && eof)
            return true;
        if (r <= 0) {
            say("FAIL: %s: connection ended after %zu of %zu reply bytes",
                what, got, wlen);
            return false;
        }
        for (size_t i = 0; i < (size_t)r; i++, got++)
            if (got >= wlen || buf[i] != want[got]) {
                size_t from = got > 20 ? got - 20 : 0;
                say("FAIL: %s: reply byte %zu is 0x%02x, expected %s%02x "
                    "(the replies expected up to there: '%.*s')",
                    what, got, (unsigned char)buf[i],
                    got >= wlen ? "the end, not 0x" : "0x",
                    got >= wlen ? 0 : (unsigned char)want[got],
                    (int)((got < wlen ? got + 1 : wlen) - from), want + from);
                return false;
            }
    }
    return true;
io:
    say("FAIL: %s: send: %s", what, strerror(errno));
    return false;
}

/* kv-pipe: pipelined batches, answered in order whatever arrives how. */
static int kv_pipe(const char *host, int port, long nbig)
{
    sb req = {0}, want = {0}, big = {0}, bigw = {0};
    char what[64], key[32], val[128];
    int fd = dial(host, port);
    bool ok = true;

    if (fd < 0) {
        say("FAIL: connect: %s", strerror(errno));
        return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    /* One batch mixing commands done by the shard of the connection's
     * loop, by the other shard (--loops 2), none (PING, errors), inline
     * and multibulk; it leaves the keyspace as it found it. */
    sb_cmd(&req, 3, "SET", "k1", "hello");
    sb_add(&want, "+OK\r\n", 5);
    sb_cmd(&req, 2, "GET", "k1");
    sb_add(&want, "$5\r\nhello\r\n", 11);
    sb_cmd(&req, 1, "FOO");
    sb_printf(&want, "-ERR unknown command 'FOO'\r\n");
    sb_cmd(&req, 2, "incr", "k2");
    sb_add(&want, ":1\r\n", 4);
    sb_printf(&req, "INCR k2\r\n");
    sb_add(&want, ":2\r\n", 4);
    sb_cmd(&req, 2, "GET", "k3");
    sb_add(&want, "$-1\r\n", 5);
    sb_printf(&req, "PING\r\n");
    sb_add(&want, "+PONG\r\n", 7);
    sb_cmd(&req, 3, "SET", "k3", "");
    sb_add(&want, "+OK\r\n", 5);
    sb_cmd(&req, 4, "MGET", "k1", "k3", "k4");
    sb_printf(&want, "*3\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n");
    sb_cmd(&req, 1, "GET");
    sb_printf(&want, "-ERR wrong number of arguments for 'GET' command\r\n");
    sb_cmd(&req, 2, "Get", "k2");
    sb_add(&want, "$1\r\n2\r\n", 7);
    sb_cmd(&req, 4, "DEL", "k1", "k2", "k3");
    sb_add(&want, ":3\r\n", 4);
    sb_cmd(&req, 3, "EXISTS", "k1", "k3");
    sb_add(&want, ":0\r\n", 4);

    ok = exchange(fd, "the batch in one write", req.p, req.len, 0, want.p,
                  want.len, false);
    for (size_t k = 1; ok && k < req.len; k++) {
        snprintf(what, sizeof what, "the batch split at byte %zu", k);
        ok = exchange(fd, what, req.p, req.len, k, want.p, want.len, false);
    }
    if (ok)
        say("a batch of %zu bytes split at each of its %zu boundaries: "
            "replies right, in order", req.len, req.len - 1);
    /* A byte at a time. */
    for (size_t k = 0; ok && k + 1 < req.len; k++)
        ok = send_all(fd, req.p + k, 1);
    if (ok)
        ok = exchange(fd, "the batch a byte at a time", req.p + req.len - 1,
                      1, 0, want.p, want.len, false);

    /* Bigger than the read buffer (16 KiB) and than a batch (1,024
     * commands): SET, GET, an unknown command, inline PING, interleaved. */
    for (long i = 0; ok && i < nbig; i++) {
        snprintf(key, sizeof key, "big%ld", i);
        snprintf(val, sizeof val, "%ld-%0100ld", i, i);
        sb_cmd(&big, 3, "SET", key, val);
        sb_add(&bigw, "+OK\r\n", 5);
        sb_cmd(&big, 2, "GET", key);
        sb_printf(&bigw, "$%zu\r\n%s\r\n", strlen(val), val);
        if (i % 7 == 0) {
            snprintf(key, sizeof key, "NOPE%ld", i);
            sb_cmd(&big, 1, key);
            sb_printf(&bigw, "-ERR unknown command '%s'\r\n", key);
        }
        if (i % 11 == 0) {
            sb_printf(&big, "PING\r\n");
            sb_add(&bigw, "+PONG\r\n", 7);
        }
    }
    if (ok && nbig > 0) {
        ok = exchange(fd, "a big batch", big.p, big.len, 0, bigw.p, bigw.len,
                      false);
        if (ok)
            say("a batch of %zu bytes, %ld SET+GET: replies right, in order",
                big.len, nbig);
    }
    close(fd);

    /* Garbage in the middle of a batch: the commands before it are
     * answered, then the protocol error, then the close; nothing after. */
    static const struct {
        const char *req, *want;
    } bad[] = {
        {"*3\r\n$3\r\nSET\r\n$2\r\ng1\r\n$1\r\nx\r\nGET g1\r\n*abc\r\n"
         "PING\r\n",
         "+OK\r\n$1\r\nx\r\n"
         "-ERR Protocol error: invalid multibulk length\r\n"},
        {"PING\r\n*2\r\n$3\r\nGET\r\n!2\r\ng1\r\nPING\r\n",
         "+PONG\r\n-ERR Protocol error: expected '$', got '!'\r\n"},
        {"GET g1\r\n$3\r\nGET\r\nPING\r\n",
         "$1\r\nx\r\n-ERR Protocol error: expected '*', got '$'\r\n"},
        {"PING\r\n*2\r\n$3\r\nGET\r\n$2\r\ng1XY*1\r\n$4\r\nPING\r\n",
         "+PONG\r\n-ERR Protocol error: expected CRLF after bulk data\r\n"},
        /* QUIT: answered, and nothing after it. */
        {"PING\r\nQUIT\r\nPING\r\nGET g1\r\n", "+PONG\r\n+OK\r\n"},
        {"*2\r\n$3\r\nDEL\r\n$2\r\ng1\r\n", ":1\r\n"},
    };
    for (size_t i = 0; ok && i < sizeof bad / sizeof bad[0]; i++) {
        bool last = i + 1 == sizeof bad / sizeof bad[0];
        if ((fd = dial(host, port)) < 0) {
            say("FAIL: connect: %s", strerror(errno));
            return 1;
        }
        snprintf(what, sizeof what, "garbage case %zu", i + 1);
        ok = exchange(fd, what, bad[i].req, strlen(bad[i].req), 0,
                      bad[i].want, strlen(bad[i].want), !last);
        close(fd);
    }
    if (ok)
        say("garbage in a batch: the replies before it, the error, the close");
    free(req.p);
    free(want.p);
    free(big.p);
    free(bigw.p);
    return ok ? 0 : 1;
}

static volatile sig_atomic_t stop_flag;

static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int faults(const char *host, int port, size_t n)
{
    static const char *garbage[] = {
        "*abc\r\n", "$5\r\nhello\r\n", "*1\r\n$999999999999\r\n",
        "\x01\x02\x03\xff\xfe\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nxyz\r\n"};
    double deadline = now() + guard_s;
    int *idle = calloc(2 * n + 1, sizeof *idle);
    size_t nidle = 0, nstall = 0;
    unsigned long garb = 0, resets = 0;
    char buf[4096];
    struct rlimit rl;

    if (!idle)
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2 * n + 64) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= 2 * n + 64
                          ? 2 * n + 64
                          : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    for (size_t i = 0; i < n && !stop_flag; i++)
        if ((idle[nidle] = dial(host, port)) >= 0)
            nidle++;
    say("%zu idle connections held", nidle);
    for (unsigned long k = 0; !stop_flag && now() < deadline; k++) {
        int fd = dial(host, port);
        if (fd < 0) {
            usleep(10000);
            continue;
        }
        switch (k % 3) {
        case 0: { /* garbage, then read what comes back for a moment */
            const char *g = garbage[(k / 3) % 5];
            struct pollfd p = {.fd = fd, .events = POLLIN};
            send_all(fd, g, strlen(g));
            if (poll(&p, 1, 50) > 0)
                (void)!recv(fd, buf, sizeof buf, 0);
            close(fd);
            garb++;
            break;
        }
        case 1: { /* half a request, then a reset */
            struct linger lg = {1, 0};
            send_all(fd, "*3\r\n$3\r\nSET\r\n$1\r\n", 20);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            close(fd);
            resets++;
            break;
        }
        default: /* half a request, then silence: held */
            send_all(fd, "*2\r\n$3\r\nGET\r\n$1\r\n", 20);
            if (nstall < n) {
                idle[nidle++] = fd;
                nstall++;
            } else {
                close(fd);
            }
            break;
        }
        usleep(2000);
    }
    say("stopped: %zu idle, %zu stalled, %lu garbage, %lu resets", n, nstall,
        garb, resets);
    for (size_t i = 0; i < nidle; i++)
        close(idle[i]);
    free(idle);
    return 0;
}

int main(int argc, char **argv)
{
    const char *g = getenv("AX_SRV_GUARD");

    if (g && atof(g) > 0)
        guard_s = atof(g);
    if (argc == 5 && !strcmp(argv[1], "chat-flood"))
        return chat_flood(argv[2], atoi(argv[3]), (size_t)atol(argv[4]),
                          false);
    if (argc == 5 && !strcmp(argv[1], "chat-hold"))
        return chat_flood(argv[2], atoi(argv[3]), (size_t)atol(argv[4]),
                          true);
    if (argc == 5 && !strcmp(argv[1], "kv-acked"))
        return kv_acked(argv[2], atoi(argv[3]), atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "kv-check"))
        return kv_check(argv[2], atoi(argv[3]), atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "faults"))
        return faults(argv[2], atoi(argv[3]), (size_t)atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "kv-talk"))
        return kv_talk(argv[2], atoi(argv[3]), (size_t)atol(argv[4]));
    if (argc == 5 && !strcmp(argv[1], "kv-pipe"))
        return kv_pipe(argv[2], atoi(argv[3]), atol(argv[4]));
    fprintf(stderr,
            "usage: srvclient chat-flood|chat-hold|kv-talk|kv-acked|kv-check|"
            "kv-pipe|faults "
            "HOST PORT N\n");
    return 2;
}
