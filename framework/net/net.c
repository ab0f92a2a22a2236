/* SPDX-License-Identifier: MIT */
/*
 * Awaitable sockets.
 *
 * Each socket embeds an fd watcher (wait.h), registered once, edge-triggered
 * for read and write, for its whole life. An operation tries the system call
 * first; only on EAGAIN does it wait for the next edge. That wait is all
 * this file asks of the runtime, through wait.h.
 *
 * Every suspending call has one implementation taking an absolute deadline
 * (int64 ns on the loop's clock, -1: none); the relative-timeout functions
 * convert at the edge, so a deadline is read once per call however many
 * times the call waits, and a caller's deadline can span several calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "axon/error.h"
#include "axon/file.h"
#include "axon/loop.h"
#include "axon/net.h"
#include "axon/task.h"
#include "resolve.h"
#include "sock.h"
#include "wait.h"

#define RBUF_MIN AX__IO_BUF /* the first buffer comes from the cache */

struct ax_sock {
    ax__io io;
    int fd;
    bool listening;
    bool accepts_tcp; /* a listener whose connections are TCP */
    bool stream; /* not a socket (a pipe, a tty): read()/write() */
    char *rbuf;
    size_t rcap, rstart, rend;
};

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

static int sock_new(int fd, bool stream, bool tcp, ax_sock **out)
{
    ax_sock *s = ax__calloc(1, sizeof *s);
    int rc;

    if (!s)
        return AX_ENOMEM;
    s->fd = fd;
    s->stream = stream;
    if ((rc = tcp ? ax__io_init_tcp(&s->io, fd) : ax__io_init(&s->io, fd))) {
        ax__free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int ax_sock_wrap(int fd, ax_sock **out)
{
    struct stat st;
    int rc;

    if (fd < 0 || !out)
        return AX_EINVAL;
    /* Refuse before touching the descriptor's flags: it is not ours yet. */
    if (!ax_loop_current())
        return AX_EPERM;
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((rc = set_nonblock(fd)))
        return rc;
    return sock_new(fd, !S_ISSOCK(st.st_mode), false, out);
}

/* Made here or by accept4() with SOCK_NONBLOCK: no fstat(), no fcntl(). */
int ax__sock_adopt(int fd, bool tcp, ax_sock **out)
{
    if (fd < 0 || !out)
        return AX_EINVAL;
    if (!ax_loop_current())
        return AX_EPERM;
    return sock_new(fd, false, tcp, out);
}

int ax_sock_fd(const ax_sock *s) { return s ? s->fd : -1; }

ax__io *ax__sock_io(ax_sock *s) { return &s->io; }

ax_sock *ax__sock_of_io(ax__io *io)
{
    return (ax_sock *)(void *)((char *)io - offsetof(ax_sock, io));
}

size_t ax_buffered(const ax_sock *s) { return s ? s->rend - s->rstart : 0; }

/* Relative timeout to deadline, inline for the common "none" case so the
 * wrappers cost nothing over the deadline forms. NaN is not < 0 and reaches
 * ax__deadline_after(), which refuses it. */
static inline int to_deadline(double timeout, int64_t *dl)
{
    if (timeout < 0) {
        *dl = -1;
        return 0;
    }
    return ax__deadline_after(timeout, dl);
}

/* The checks every socket operation starts with. */
static inline int enter(const ax_sock *s, int dir, int64_t dl)
{
    if (!s || dl < -1)
        return AX_EINVAL;
    return ax__io_enter(&s->io, dir);
}

int ax_sock_wait_dl(ax_sock *s, ax_sock_ready dir, int64_t deadline)
{
    int d = dir == AX_SOCK_WRITABLE ? AX__IO_WRITE : AX__IO_READ;
    int rc;

    if (dir != AX_SOCK_READABLE && dir != AX_SOCK_WRITABLE)
        return AX_EINVAL;
    if ((rc = enter(s, d, deadline)))
        return rc;
    return ax__io_wait(&s->io, d, deadline);
}

/* One recv() (or read() on a stream) without waiting: bytes, 0 at end of
 * stream, AX_EAGAIN, or a negative errno code, with the short-read hint
 * kept as read_some() keeps it. */
static ssize_t read_once(ax_sock *s, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = s->stream ? read(s->fd, buf, n) : recv(s->fd, buf, n, 0);
        if (r > 0) {
            ax__io_read_done(&s->io, (size_t)r, n);
            return r;
        }
        if (r < 0 && errno == EINTR)
            continue;
        ax__io_read_none(&s->io);
        if (r == 0)
            return 0;
        return errno == EAGAIN || errno == EWOULDBLOCK ? AX_EAGAIN : -errno;
    }
}

/* Hand out up to @p n bytes ax_read_until() had buffered; 0 if none. */
static size_t take_rbuf(ax_sock *s, void *buf, size_t n)
{
    size_t k = s->rend - s->rstart;

    if (k > n)
        k = n;
    if (k) {
        memcpy(buf, s->rbuf + s->rstart, k);
        s->rstart += k;
    }
    return k;
}

static ssize_t read_some(ax_sock *s, void *buf, size_t n, int64_t dl)
{
    int rc;

    /* A short read alone is not taken to mean "empty, wait for the next
     * edge" (as nginx does with the raw epoll bits, saving the recv() that
     * says EAGAIN): an end of stream or a reset that came with the data has
     * had its edge already, and libevent folds EPOLLERR into
     * EV_READ|EV_WRITE, so a reset cannot be told from data and the task
     * would wait forever. It is taken so on a TCP socket once a write has
     * succeeded since, with no FIN seen (EV_CLOSED): a pending reset would
     * have failed that write (wait.h, ax__io_wrote()). That is the
     * request/response pattern, where it spares one recv() per request.
     * A deadline that passes in that wait still gets its recv(), so a
     * zero timeout still takes what is there. */
    if (ax__io_take_drained(&s->io) &&
        (rc = ax__io_wait(&s->io, AX__IO_READ, dl)) && rc != AX_ETIMEDOUT)
        return rc;
    for (;;) {
        ssize_t r = read_once(s, buf, n);
        if (r != AX_EAGAIN)
            return r;
        if ((rc = ax__io_wait(&s->io, AX__IO_READ, dl)))
            return rc;
    }
}

static ssize_t sock_read(ax_sock *s, void *buf, size_t n, int64_t dl)
{
    int rc = enter(s, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    if (s->rend > s->rstart)
        return (ssize_t)take_rbuf(s, buf, n);
    return n ? read_some(s, buf, n, dl) : 0;
}

ssize_t ax_try_read(ax_sock *s, void *buf, size_t n)
{
    int rc = enter(s, AX__IO_READ, -1);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    if (!n)
        return 0;
    if (s->rend > s->rstart)
        return (ssize_t)take_rbuf(s, buf, n);
    /* Proved empty (read_some()): the caller's wait then takes the next
     * edge, as read_some()'s own wait would. */
    if (ax__io_take_drained(&s->io))
        return AX_EAGAIN;
    return read_once(s, buf, n);
}

ssize_t ax_read(ax_sock *s, void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_read(s, buf, n, dl);
}

ssize_t ax_read_dl(ax_sock *s, void *buf, size_t n, int64_t deadline)
{
    return sock_read(s, buf, n, deadline);
}

static int sock_read_exact(ax_sock *s, void *buf, size_t n, int64_t dl)
{
    size_t got = 0;
    int rc = enter(s, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    if (s->rend > s->rstart) {
        got = s->rend - s->rstart;
        if (got > n)
            got = n;
        memcpy(buf, s->rbuf + s->rstart, got);
        s->rstart += got;
    }
    while (got < n) {
        ssize_t r = read_some(s, (char *)buf + got, n - got, dl);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return AX_EPIPE;
        got += (size_t)r;
    }
    return 0;
}

int ax_read_exact(ax_sock *s, void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_read_exact(s, buf, n, dl);
}

int ax_read_exact_dl(ax_sock *s, void *buf, size_t n, int64_t deadline)
{
    return sock_read_exact(s, buf, n, deadline);
}

/* A buffer of AX__IO_BUF bytes goes back to the loop's cache. */
static void rbuf_free(ax_sock *s)
{
    if (s->rcap == AX__IO_BUF)
        ax__io_buf_put(&s->io, s->rbuf);
    else
        ax__free(s->rbuf);
}

/* Before a read wait with nothing buffered (@have == 0): give the buffer
 * back, so that a connection parked between requests holds none. */
static void rbuf_drop_if_empty(ax_sock *s, size_t have)
{
    if (have == 0 && s->rbuf) {
        rbuf_free(s);
        s->rbuf = NULL;
        s->rcap = s->rstart = s->rend = 0;
    }
}

int ax__sock_idle(ax_sock *s)
{
    char b;
    ssize_t r;

    if (s->rend > s->rstart)
        return 0;
    rbuf_drop_if_empty(s, 0);
    /* ready[READ] false: an EAGAIN (or a write after a short read) since
     * the last edge, so the socket is empty and its next bytes bring an
     * edge. */
    if (!s->io.ready[AX__IO_READ])
        return 1;
    do
        r = recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        s->io.ready[AX__IO_READ] = false;
        return 1;
    }
    return 0;
}

static int sock_read_until(ax_sock *s, const char *delim, char **line,
                           size_t *len, size_t max, int64_t dl)
{
    size_t dlen = delim ? strlen(delim) : 0, scanned = 0;
    int rc = enter(s, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!dlen || !line || !len || max < dlen)
        return AX_EINVAL;
    for (;;) {
        size_t have = s->rend - s->rstart;
        size_t from = scanned > dlen ? scanned - dlen + 1 : 0;
        /* Only the first max bytes may hold the line, however the bytes
         * arrived. */
        size_t limit = have < max ? have : max;
        char *hit = limit > from ? ax__memfind(s->rbuf + s->rstart + from,
                                               limit - from, delim, dlen)
                                 : NULL;
        ssize_t r;
        if (hit) {
            *line = s->rbuf + s->rstart;
            *len = (size_t)(hit - *line) + dlen;
            s->rstart += *len;
            return 0;
        }
        scanned = limit;
        if (have >= max)
            return AX_E2BIG;
        /* Proved empty by a write since a short read (read_some()): wait
         * for the next edge first, without a buffer if none is needed. */
        if (ax__io_take_drained(&s->io)) {
            rbuf_drop_if_empty(s, have);
            rc = ax__io_wait(&s->io, AX__IO_READ, dl);
            if (rc && rc != AX_ETIMEDOUT)
                return rc;
            continue;
        }
        /* Make room: slide the unread bytes to the front, then grow. */
        if (s->rstart && s->rend == s->rcap) {
            memmove(s->rbuf, s->rbuf + s->rstart, have);
            s->rend = have;
            s->rstart = 0;
        }
        if (s->rend == s->rcap) {
            size_t cap = s->rcap ? s->rcap * 2 : RBUF_MIN;
            char *nb;
            if (cap > max + RBUF_MIN)
                cap = max + RBUF_MIN;
            nb = s->rcap ? ax__realloc(s->rbuf, cap)
                         : ax__io_buf_get(&s->io);
            if (!nb)
                return AX_ENOMEM;
            s->rbuf = nb;
            s->rcap = cap;
        }
        r = s->stream ? read(s->fd, s->rbuf + s->rend, s->rcap - s->rend)
                      : recv(s->fd, s->rbuf + s->rend, s->rcap - s->rend, 0);
        if (r > 0) {
            ax__io_read_done(&s->io, (size_t)r, s->rcap - s->rend);
            s->rend += (size_t)r;
            continue;
        }
        if (r == 0) {
            ax__io_read_none(&s->io);
            return AX_EPIPE;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            ax__io_read_none(&s->io);
            return -errno;
        }
        /* Nothing buffered: the buffer is given back while the task
         * waits, and taken again when bytes come (as nginx frees a
         * keep-alive connection's header buffer). An idle connection
         * parked here then holds no buffer at all; a busy one pays a
         * free and a malloc per wait, next to the two system calls
         * the wait costs anyway. */
        rbuf_drop_if_empty(s, have);
        if ((rc = ax__io_wait(&s->io, AX__IO_READ, dl)))
            return rc;
    }
}

int ax_read_until(ax_sock *s, const char *delim, char **line, size_t *len,
                  size_t max, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_read_until(s, delim, line, len, max, dl);
}

int ax_read_until_dl(ax_sock *s, const char *delim, char **line,
                     size_t *len, size_t max, int64_t deadline)
{
    return sock_read_until(s, delim, line, len, max, deadline);
}

/*
 * write() to a pipe whose reader is gone raises SIGPIPE, and there is no
 * MSG_NOSIGNAL for pipes. So the signal is blocked in this thread around
 * the write and, if the write made one (EPIPE) that was not already
 * pending, taken back with sigtimedwait() before the mask is restored.
 * The cost, two or three system calls per write, falls on pipes only.
 */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old, pending;
    bool was_pending;
    ssize_t w;
    int err;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
        return write(fd, buf, n);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    w = write(fd, buf, n);
    err = errno;
    if (w < 0 && err == EPIPE && !was_pending) {
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return w;
}

/* One send() (or write() on a stream) without waiting: bytes written, 0
 * for nothing, AX_EAGAIN, or a negative errno code. */
static ssize_t write_once(ax_sock *s, const void *buf, size_t n)
{
    for (;;) {
        ssize_t w = s->stream ? write_nosigpipe(s->fd, buf, n)
                              : send(s->fd, buf, n, MSG_NOSIGNAL);
        if (w > 0)
            ax__io_wrote(&s->io);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? AX_EAGAIN : -errno;
    }
}

static ssize_t write_some(ax_sock *s, const void *buf, size_t n, int64_t dl)
{
    for (;;) {
        ssize_t w = write_once(s, buf, n);
        int rc;
        if (w != AX_EAGAIN)
            return w;
        if ((rc = ax__io_wait(&s->io, AX__IO_WRITE, dl)))
            return rc;
    }
}

ssize_t ax_try_write(ax_sock *s, const void *buf, size_t n)
{
    int rc = enter(s, AX__IO_WRITE, -1);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    return n ? write_once(s, buf, n) : 0;
}

static ssize_t sock_write(ax_sock *s, const void *buf, size_t n, int64_t dl)
{
    int rc = enter(s, AX__IO_WRITE, dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    return n ? write_some(s, buf, n, dl) : 0;
}

ssize_t ax_write(ax_sock *s, const void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_write(s, buf, n, dl);
}

ssize_t ax_write_dl(ax_sock *s, const void *buf, size_t n, int64_t deadline)
{
    return sock_write(s, buf, n, deadline);
}

static int sock_write_all(ax_sock *s, const void *buf, size_t n, int64_t dl)
{
    size_t done = 0;
    int rc = enter(s, AX__IO_WRITE, dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    while (done < n) {
        ssize_t w = write_some(s, (const char *)buf + done, n - done, dl);
        if (w < 0)
            return (int)w;
        done += (size_t)w;
    }
    return 0;
}

int ax_write_all(ax_sock *s, const void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_write_all(s, buf, n, dl);
}

int ax_write_all_dl(ax_sock *s, const void *buf, size_t n, int64_t deadline)
{
    return sock_write_all(s, buf, n, deadline);
}

static void sock_free(ax_sock *s)
{
    ax__io_term(&s->io);
    rbuf_free(s);
    ax__free(s);
}

int ax_sock_release(ax_sock *s)
{
    int fd;

    if (!s)
        return AX_EINVAL;
    if (ax__io_busy(&s->io))
        return AX_EBUSY;
    fd = s->fd;
    sock_free(s);
    return fd;
}

int ax_close(ax_sock *s)
{
    /* Unregister first: once closed, the number may already name another
     * thread's new socket, and libevent's epoll_ctl(DEL) would touch it. */
    int fd = ax_sock_release(s);

    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* ---- addresses, listen, connect ------------------------------------------ */

typedef union addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
} addr;

/* Could @p host be a DNS name (RFC 1123 letters, digits, '-' and '.'),
 * if perhaps an over-long one? Then the caller hears AX_ENAME (a bad
 * name) rather than AX_EINVAL, which is kept for strings no resolver
 * would take ("127.0.0.1:80"). */
static bool looks_like_name(const char *host)
{
    size_t n = 0;

    for (const char *p = host; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return n > 0;
}

static int parse_addr(const char *host, int port, addr *a, socklen_t *len)
{
    memset(a, 0, sizeof *a);
    if (port < 0 || port > 65535)
        return AX_EINVAL;
    if (!host || !*host || !strcmp(host, "0.0.0.0") ||
        !strcmp(host, "localhost") ||
        inet_pton(AF_INET, host, &a->in4.sin_addr) == 1) {
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = htons((uint16_t)port);
        if (!host || !*host)
            a->in4.sin_addr.s_addr = htonl(INADDR_ANY);
        else if (!strcmp(host, "localhost"))
            a->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (!strcmp(host, "0.0.0.0"))
            a->in4.sin_addr.s_addr = htonl(INADDR_ANY);
        *len = sizeof a->in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons((uint16_t)port);
        *len = sizeof a->in6;
        return 0;
    }
    /* A name: ax_connect() resolves it (dns.c); listening on one is
     * refused, as binding wants one address, not a lookup's list. */
    return looks_like_name(host) ? AX_ENAME : AX_EINVAL;
}

static int unix_addr(const char *path, addr *a, socklen_t *len)
{
    memset(a, 0, sizeof *a);
    if (!path || !*path || strlen(path) >= sizeof a->un.sun_path)
        return AX_EINVAL;
    a->un.sun_family = AF_UNIX;
    strcpy(a->un.sun_path, path);
    *len = (socklen_t)sizeof a->un;
    return 0;
}

static int listen_on(ax_sock **out, const addr *a, socklen_t len,
                     const ax_listen_opts *opts)
{
    int one = 1, fd, rc;

    if (!out)
        return AX_EINVAL;
    if (!ax_loop_current())
        return AX_EPERM;
    fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        return -errno;
    if (a->sa.sa_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (opts && opts->reuseport &&
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
            goto fail;
        if (a->sa.sa_family == AF_INET6) {
            int v6 = opts && opts->v6only;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
        }
    }
    if (bind(fd, &a->sa, len) < 0 ||
        listen(fd, opts && opts->backlog > 0 ? opts->backlog : SOMAXCONN) < 0)
        goto fail;
    rc = ax__sock_adopt(fd, false, out);
    if (rc) {
        close(fd);
        return rc;
    }
    (*out)->listening = true;
    (*out)->accepts_tcp = a->sa.sa_family != AF_UNIX;
    return 0;

fail:
    rc = -errno;
    close(fd);
    return rc;
}

int ax_tcp_listen(ax_sock **out, const char *host, int port,
                  const ax_listen_opts *opts)
{
    addr a;
    socklen_t len;
    int rc = parse_addr(host, port, &a, &len);

    return rc ? rc : listen_on(out, &a, len, opts);
}

int ax_unix_listen(ax_sock **out, const char *path,
                   const ax_listen_opts *opts)
{
    addr a;
    socklen_t len;
    int rc = unix_addr(path, &a, &len);

    if (rc)
        return rc;
    unlink(path);
    return listen_on(out, &a, len, opts);
}

int ax_sock_port(const ax_sock *s)
{
    addr a;
    socklen_t len = sizeof a;

    if (!s)
        return AX_EINVAL;
    if (getsockname(s->fd, &a.sa, &len) < 0)
        return -errno;
    if (a.sa.sa_family == AF_INET)
        return ntohs(a.in4.sin_port);
    if (a.sa.sa_family == AF_INET6)
        return ntohs(a.in6.sin6_port);
    return AX_EINVAL;
}

static int sock_accept(ax_sock *l, ax_sock **out, int64_t dl)
{
    int rc = enter(l, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!l->listening || !out)
        return AX_EINVAL;
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            rc = ax__sock_adopt(fd, l->accepts_tcp, out);
            if (rc)
                close(fd);
            return rc;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = ax__io_wait(&l->io, AX__IO_READ, dl)))
            return rc;
    }
}

int ax_accept(ax_sock *l, ax_sock **out, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : sock_accept(l, out, dl);
}

int ax_accept_dl(ax_sock *l, ax_sock **out, int64_t deadline)
{
    return sock_accept(l, out, deadline);
}

static int connect_to(ax_sock **out, const addr *a, socklen_t len,
                      int64_t dl)
{
    ax_sock *s;
    int fd, rc, err = 0;
    socklen_t elen = sizeof err;

    if (!out || dl < -1)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        return -errno;
    if (a->sa.sa_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    rc = ax__sock_adopt(fd, a->sa.sa_family != AF_UNIX, &s);
    if (rc) {
        close(fd);
        return rc;
    }
    if (connect(fd, &a->sa, len) < 0) {
        if (errno != EINPROGRESS) {
            rc = -errno;
            ax_close(s);
            return rc;
        }
        rc = ax__io_wait(&s->io, AX__IO_WRITE, dl);
        if (!rc && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
            rc = -errno;
        if (!rc && err)
            rc = -err;
        if (rc) {
            ax_close(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

static int tcp_connect(ax_sock **out, const char *host, int port,
                       int64_t dl)
{
    addr a;
    socklen_t len;
    int rc = parse_addr(host ? host : "127.0.0.1", port, &a, &len);

    if (rc == AX_ENAME) {
        /* A name: resolved on the loop, then Happy Eyeballs (dns.c). */
        if (!out || port == 0 || dl < -1)
            return AX_EINVAL;
        if (!ax_task_self())
            return AX_ENOTTASK;
        return ax__connect_name(out, host, port, dl);
    }
    if (rc)
        return rc;
    if (port == 0)
        return AX_EINVAL;
    if (a.sa.sa_family == AF_INET &&
        a.in4.sin_addr.s_addr == htonl(INADDR_ANY))
        a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect_to(out, &a, len, dl);
}

int ax_connect(ax_sock **out, const char *host, int port, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : tcp_connect(out, host, port, dl);
}

int ax_connect_dl(ax_sock **out, const char *host, int port,
                  int64_t deadline)
{
    return tcp_connect(out, host, port, deadline);
}

static int unix_connect(ax_sock **out, const char *path, int64_t dl)
{
    addr a;
    socklen_t len;
    int rc = unix_addr(path, &a, &len);

    return rc ? rc : connect_to(out, &a, len, dl);
}

int ax_unix_connect(ax_sock **out, const char *path, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : unix_connect(out, path, dl);
}

int ax_unix_connect_dl(ax_sock **out, const char *path, int64_t deadline)
{
    return unix_connect(out, path, deadline);
}

/* ---- sendfile ------------------------------------------------------------- */

ssize_t ax_sendfile(ax_sock *s, int fd, off_t *offset, size_t count,
                    int64_t deadline)
{
    size_t done = 0;
    int rc = enter(s, AX__IO_WRITE, deadline);

    if (rc)
        return rc;
    if (fd < 0 || !offset)
        return AX_EINVAL;
    while (done < count) {
        /* Linux sends at most 0x7ffff000 bytes a call. */
        size_t want = count - done > 0x7ffff000 ? 0x7ffff000 : count - done;
        ssize_t w = sendfile(s->fd, fd, offset, want);
        if (w > 0) {
            ax__io_wrote(&s->io);
            done += (size_t)w;
            continue;
        }
        if (w == 0)
            break; /* the file ended */
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        if ((rc = ax__io_wait(&s->io, AX__IO_WRITE, deadline)))
            return rc;
    }
    return (ssize_t)done;
}
