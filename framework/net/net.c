/*
 * Awaitable sockets.
 *
 * Each socket is registered with its loop's event_base once, edge-triggered
 * for read and write, for its whole life. An operation tries the system call
 * first; only on EAGAIN does it clear its "ready" flag and suspend until the
 * event callback sets it again. On one thread there is no race between the
 * EAGAIN and the edge: the callback can only run after the task suspends.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "axon/net.h"

#define RBUF_MIN 4096

struct ax_sock {
    int fd;
    ax_loop *loop;
    struct event *ev;
    ax_task *reader, *writer;
    bool rready, wready;
    bool listening;
    char *rbuf;
    size_t rcap, rstart, rend;
};

static void on_io(evutil_socket_t fd, short what, void *arg)
{
    ax_sock *s = arg;

    (void)fd;
    if (what & EV_READ) {
        s->rready = true;
        if (s->reader)
            ax__wake(s->reader, 0);
    }
    if (what & EV_WRITE) {
        s->wready = true;
        if (s->writer)
            ax__wake(s->writer, 0);
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int ax_sock_wrap(int fd, ax_sock **out)
{
    ax_loop *L = ax__tls_loop;
    ax_sock *s;
    int rc;

    if (fd < 0 || !out)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if ((rc = set_nonblock(fd)))
        return rc;
    s = calloc(1, sizeof *s);
    if (!s)
        return AX_ENOMEM;
    s->fd = fd;
    s->loop = L;
    /* Assume ready: the first operation finds out with its system call. */
    s->rready = s->wready = true;
    s->ev = event_new(L->base, fd, EV_READ | EV_WRITE | EV_PERSIST | EV_ET,
                      on_io, s);
    if (!s->ev || event_add(s->ev, NULL) != 0) {
        if (s->ev)
            event_free(s->ev);
        free(s);
        return AX_ENOMEM;
    }
    *out = s;
    return 0;
}

int ax_sock_fd(const ax_sock *s) { return s ? s->fd : -1; }

size_t ax_buffered(const ax_sock *s) { return s ? s->rend - s->rstart : 0; }

/* Suspend until the socket is ready in one direction, the deadline passes
 * or the task is cancelled. */
static int wait_ready(ax_sock *s, bool write, int64_t deadline)
{
    ax_task *t = ax__current();
    ax_loop *L = t->loop;
    ax_task **slot = write ? &s->writer : &s->reader;
    bool *ready = write ? &s->wready : &s->rready;
    int rc = 0;

    if (deadline >= 0) {
        if (deadline <= ax__now(L))
            return AX_ETIMEDOUT;
        t->timer.status = AX_ETIMEDOUT;
        ax__timer_add(L, &t->timer, deadline);
    }
    *slot = t;
    while (!*ready && !rc)
        rc = ax__suspend(t, write ? "waiting to write" : "waiting to read",
                         NULL);
    *slot = NULL;
    ax__timer_del(L, &t->timer);
    return *ready ? 0 : rc;
}

/* Check the caller and turn a timeout in seconds into a deadline (-1:
 * none). */
static int enter(ax_sock *s, ax_task **slot, double timeout, int64_t *dl)
{
    ax_task *t = ax__current();
    int64_t ns;

    if (!s || isnan(timeout))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    if (s->loop != t->loop)
        return AX_EWRONGLOOP;
    if (*slot)
        return AX_EBUSY;
    *dl = -1;
    if (timeout >= 0) {
        int rc = ax__seconds_to_ns(timeout, &ns);
        if (rc)
            return rc;
        *dl = ax__now(t->loop) + ns;
    }
    return 0;
}

static ssize_t read_some(ax_sock *s, void *buf, size_t n, int64_t dl)
{
    for (;;) {
        ssize_t r = recv(s->fd, buf, n, 0);
        int rc;
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        s->rready = false;
        if ((rc = wait_ready(s, false, dl)))
            return rc;
    }
}

ssize_t ax_read(ax_sock *s, void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = enter(s, s ? &s->reader : NULL, timeout, &dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    if (s->rend > s->rstart) {
        size_t k = s->rend - s->rstart;
        if (k > n)
            k = n;
        memcpy(buf, s->rbuf + s->rstart, k);
        s->rstart += k;
        return (ssize_t)k;
    }
    return n ? read_some(s, buf, n, dl) : 0;
}

int ax_read_exact(ax_sock *s, void *buf, size_t n, double timeout)
{
    int64_t dl;
    size_t got = 0;
    int rc = enter(s, s ? &s->reader : NULL, timeout, &dl);

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

static void *find(const char *hay, size_t n, const char *needle, size_t k)
{
    return k ? memmem(hay, n, needle, k) : NULL;
}

int ax_read_until(ax_sock *s, const char *delim, char **line, size_t *len,
                  size_t max, double timeout)
{
    size_t dlen = delim ? strlen(delim) : 0, scanned = 0;
    int64_t dl;
    int rc = enter(s, s ? &s->reader : NULL, timeout, &dl);

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
        char *hit = limit > from ? find(s->rbuf + s->rstart + from,
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
            nb = realloc(s->rbuf, cap);
            if (!nb)
                return AX_ENOMEM;
            s->rbuf = nb;
            s->rcap = cap;
        }
        r = read_some(s, s->rbuf + s->rend, s->rcap - s->rend, dl);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return AX_EPIPE;
        s->rend += (size_t)r;
    }
}

static ssize_t write_some(ax_sock *s, const void *buf, size_t n, int64_t dl)
{
    for (;;) {
        ssize_t w = send(s->fd, buf, n, MSG_NOSIGNAL);
        int rc;
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        s->wready = false;
        if ((rc = wait_ready(s, true, dl)))
            return rc;
    }
}

ssize_t ax_write(ax_sock *s, const void *buf, size_t n, double timeout)
{
    int64_t dl;
    int rc = enter(s, s ? &s->writer : NULL, timeout, &dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    return n ? write_some(s, buf, n, dl) : 0;
}

int ax_write_all(ax_sock *s, const void *buf, size_t n, double timeout)
{
    int64_t dl;
    size_t done = 0;
    int rc = enter(s, s ? &s->writer : NULL, timeout, &dl);

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

static void sock_free(ax_sock *s)
{
    event_free(s->ev);
    free(s->rbuf);
    free(s);
}

int ax_close(ax_sock *s)
{
    int fd;

    if (!s)
        return AX_EINVAL;
    if (s->reader || s->writer)
        return AX_EBUSY;
    /* Unregister first: once closed, the number may already name another
     * thread's new socket, and libevent's epoll_ctl(DEL) would touch it. */
    fd = s->fd;
    sock_free(s);
    close(fd);
    return 0;
}

int ax_sock_release(ax_sock *s)
{
    int fd;

    if (!s)
        return AX_EINVAL;
    if (s->reader || s->writer)
        return AX_EBUSY;
    fd = s->fd;
    sock_free(s);
    return fd;
}

/* ---- addresses, listen, connect ------------------------------------------ */

typedef union addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr_un un;
} addr;

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
    return AX_EINVAL;
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
    if (!ax__tls_loop)
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
    rc = ax_sock_wrap(fd, out);
    if (rc) {
        close(fd);
        return rc;
    }
    (*out)->listening = true;
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

int ax_accept(ax_sock *l, ax_sock **out, double timeout)
{
    int64_t dl;
    int rc = enter(l, l ? &l->reader : NULL, timeout, &dl);

    if (rc)
        return rc;
    if (!l->listening || !out)
        return AX_EINVAL;
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            rc = ax_sock_wrap(fd, out);
            if (rc)
                close(fd);
            return rc;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        l->rready = false;
        if ((rc = wait_ready(l, false, dl)))
            return rc;
    }
}

static int connect_to(ax_sock **out, const addr *a, socklen_t len,
                      double timeout)
{
    ax_task *t = ax__current();
    ax_sock *s;
    int64_t dl = -1, ns;
    int fd, rc, err = 0;
    socklen_t elen = sizeof err;

    if (!out || isnan(timeout))
        return AX_EINVAL;
    if (!t)
        return AX_ENOTTASK;
    if (timeout >= 0) {
        if ((rc = ax__seconds_to_ns(timeout, &ns)))
            return rc;
        dl = ax__now(t->loop) + ns;
    }
    fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        return -errno;
    if (a->sa.sa_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    rc = ax_sock_wrap(fd, &s);
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
        s->wready = false;
        rc = wait_ready(s, true, dl);
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

int ax_connect(ax_sock **out, const char *host, int port, double timeout)
{
    addr a;
    socklen_t len;
    int rc = parse_addr(host ? host : "127.0.0.1", port, &a, &len);

    if (rc)
        return rc;
    if (port == 0)
        return AX_EINVAL;
    if (a.sa.sa_family == AF_INET &&
        a.in4.sin_addr.s_addr == htonl(INADDR_ANY))
        a.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect_to(out, &a, len, timeout);
}

int ax_unix_connect(ax_sock **out, const char *path, double timeout)
{
    addr a;
    socklen_t len;
    int rc = unix_addr(path, &a, &len);

    return rc ? rc : connect_to(out, &a, len, timeout);
}
