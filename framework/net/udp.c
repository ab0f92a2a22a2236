/* SPDX-License-Identifier: MIT */
/*
 * Awaitable UDP sockets.
 *
 * The same pattern as net.c: one edge-triggered registration per socket
 * (wait.h), the system call first, ax__io_wait() only after EAGAIN, one
 * implementation per call taking an absolute deadline. recvmsg() is used
 * even for a single datagram because only its msg_flags says MSG_TRUNC.
 *
 * Handles come from a quarantine (handle.h) so that a closed socket is
 * refused with AX_ESRCH instead of being read after free.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/error.h"
#include "axon/loop.h"
#include "axon/udp.h"
#include "handle.h"
#include "wait.h"

#define UDP_MAGIC 0xA7D9D930u
/* Datagrams per recvmmsg()/sendmmsg(): 64 mmsghdr + iovec are 5 KiB of
 * the task's stack, and beyond a few dozen the syscall saving is gone. */
#define BATCH 64

#if defined(HAVE_RECVMMSG) && defined(HAVE_SENDMMSG)
#define NATIVE_BATCH 1
#else
#define NATIVE_BATCH 0
#endif

struct ax_udp {
    nh_head h; /* first: see handle.h */
    ax__io io;
    int fd;
};

static nh_pool udp_pool = NH_POOL_INIT;

bool ax_udp_batch_native(void) { return NATIVE_BATCH; }

/* ---- addresses ----------------------------------------------------------- */

/* As net.c: a string that could be a DNS name is "not resolved" (AX_ENAME),
 * anything else is plain invalid. */
static bool looks_like_name(const char *host)
{
    size_t n = 0;

    for (const char *p = host; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return n > 0 && n <= 253;
}

int ax_udp_addr_set(ax_udp_addr *a, const char *host, int port)
{
    if (!a)
        return AX_EINVAL;
    memset(a, 0, sizeof *a);
    if (port < 0 || port > 65535)
        return AX_EINVAL;
    if (!host || !*host || !strcmp(host, "localhost") ||
        inet_pton(AF_INET, host, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons((uint16_t)port);
        if (!host || !*host)
            a->u.in4.sin_addr.s_addr = htonl(INADDR_ANY);
        else if (!strcmp(host, "localhost"))
            a->u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons((uint16_t)port);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return looks_like_name(host) ? AX_ENAME : AX_EINVAL;
}

static bool addr_ok(const ax_udp_addr *a)
{
    return (a->u.sa.sa_family == AF_INET && a->len >= sizeof a->u.in4) ||
           (a->u.sa.sa_family == AF_INET6 && a->len >= sizeof a->u.in6);
}

int ax_udp_addr_port(const ax_udp_addr *a)
{
    if (!a || !addr_ok(a))
        return AX_EINVAL;
    return ntohs(a->u.sa.sa_family == AF_INET ? a->u.in4.sin_port
                                              : a->u.in6.sin6_port);
}

int ax_udp_addr_str(const ax_udp_addr *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    int n;

    if (!a || !buf || !addr_ok(a))
        return AX_EINVAL;
    if (a->u.sa.sa_family == AF_INET) {
        inet_ntop(AF_INET, &a->u.in4.sin_addr, host, sizeof host);
        n = snprintf(buf, size, "%s:%d", host, ntohs(a->u.in4.sin_port));
    } else {
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, host, sizeof host);
        n = snprintf(buf, size, "[%s]:%d", host, ntohs(a->u.in6.sin6_port));
    }
    if (n < 0 || (size_t)n >= size) {
        if (size)
            buf[0] = '\0';
        return AX_E2BIG;
    }
    return n;
}

/* ---- life ---------------------------------------------------------------- */

/* The check every call starts with: a live handle. A stale one reads only
 * the magic word, which the quarantine keeps. */
static inline int live(const ax_udp *u)
{
    if (!u)
        return AX_EINVAL;
    return nh_live(u, UDP_MAGIC) ? 0 : AX_ESRCH;
}

static int udp_new(ax_udp **out, int family, int *fdp)
{
    ax_udp *u;
    int fd, rc;

    if (!out)
        return AX_EINVAL;
    if (!ax_loop_current())
        return AX_EPERM;
    fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    u = nh_get(&udp_pool, sizeof *u, UDP_MAGIC);
    if (!u) {
        rc = AX_ENOMEM;
        goto fail_fd;
    }
    u->fd = fd;
    if ((rc = ax__io_init(&u->io, fd)))
        goto fail_u;
    *fdp = fd;
    *out = u;
    return 0;

fail_u:
    nh_put(&udp_pool, u);
fail_fd:
    close(fd);
    return rc;
}

static void udp_free(ax_udp *u)
{
    ax__io_term(&u->io);
    close(u->fd);
    nh_put(&udp_pool, u);
}

int ax_udp_bind(ax_udp **out, const char *host, int port,
                const ax_udp_opts *opts)
{
    ax_udp_addr a;
    ax_udp *u = NULL;
    int one = 1, fd = -1, rc;

    if (!out)
        return AX_EINVAL;
    if ((rc = ax_udp_addr_set(&a, host, port)))
        return rc;
    if ((rc = udp_new(&u, a.u.sa.sa_family, &fd)))
        return rc;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (opts && opts->reuseport &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (a.u.sa.sa_family == AF_INET6) {
        int v6 = opts && opts->v6only;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6, sizeof v6);
    }
    if (opts && opts->rcvbuf > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opts->rcvbuf,
                   sizeof opts->rcvbuf) < 0)
        goto fail;
    if (opts && opts->sndbuf > 0 &&
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &opts->sndbuf,
                   sizeof opts->sndbuf) < 0)
        goto fail;
    if (bind(fd, &a.u.sa, a.len) < 0)
        goto fail;
    *out = u;
    return 0;

fail:
    rc = -errno;
    udp_free(u);
    return rc;
}

int ax_udp_connect(ax_udp **out, const char *host, int port)
{
    ax_udp_addr a;
    ax_udp *u = NULL;
    int fd = -1, rc;

    if (!out)
        return AX_EINVAL;
    if ((rc = ax_udp_addr_set(&a, host, port)))
        return rc;
    if (port == 0)
        return AX_EINVAL;
    /* "0.0.0.0" as a destination means this host, as in ax_connect(). */
    if (a.u.sa.sa_family == AF_INET &&
        a.u.in4.sin_addr.s_addr == htonl(INADDR_ANY))
        a.u.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((rc = udp_new(&u, a.u.sa.sa_family, &fd)))
        return rc;
    /* A UDP connect() only records the peer: it never blocks. */
    if (connect(fd, &a.u.sa, a.len) < 0) {
        rc = -errno;
        udp_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

int ax_udp_close(ax_udp *u)
{
    int rc = live(u);

    if (rc)
        return rc;
    if (u->io.loop != ax_loop_current())
        return AX_EWRONGLOOP;
    if (ax__io_busy(&u->io))
        return AX_EBUSY;
    udp_free(u);
    return 0;
}

int ax_udp_fd(const ax_udp *u) { return live(u) ? -1 : u->fd; }

int ax_udp_local_addr(const ax_udp *u, ax_udp_addr *a)
{
    socklen_t len;
    int rc = live(u);

    if (rc)
        return rc;
    if (!a)
        return AX_EINVAL;
    memset(a, 0, sizeof *a);
    len = sizeof a->u;
    if (getsockname(u->fd, &a->u.sa, &len) < 0)
        return -errno;
    a->len = len;
    return 0;
}

int ax_udp_port(const ax_udp *u)
{
    ax_udp_addr a;
    int rc = ax_udp_local_addr(u, &a);

    return rc ? rc : ax_udp_addr_port(&a);
}

/* ---- send and receive ---------------------------------------------------- */

static inline int to_deadline(double timeout, int64_t *dl)
{
    if (timeout < 0) {
        *dl = -1;
        return 0;
    }
    return ax__deadline_after(timeout, dl);
}

static inline int enter(const ax_udp *u, int dir, int64_t dl)
{
    int rc = live(u);

    if (rc)
        return rc;
    if (dl < -1)
        return AX_EINVAL;
    return ax__io_enter(&u->io, dir);
}

static bool again(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

static ssize_t udp_send(ax_udp *u, const void *buf, size_t n,
                        const ax_udp_addr *to, int64_t dl)
{
    int rc = enter(u, AX__IO_WRITE, dl);
    const struct sockaddr *sa = NULL;
    socklen_t salen = 0;

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    if (to && to->len) {
        if (!addr_ok(to))
            return AX_EINVAL;
        sa = &to->u.sa;
        salen = to->len;
    }
    for (;;) {
        ssize_t w = sendto(u->fd, buf, n, MSG_NOSIGNAL, sa, salen);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (!again(errno))
            return -errno;
        if ((rc = ax__io_wait(&u->io, AX__IO_WRITE, dl)))
            return rc;
    }
}

ssize_t ax_udp_send(ax_udp *u, const void *buf, size_t n,
                    const ax_udp_addr *to, double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : udp_send(u, buf, n, to, dl);
}

ssize_t ax_udp_send_dl(ax_udp *u, const void *buf, size_t n,
                       const ax_udp_addr *to, int64_t deadline)
{
    return udp_send(u, buf, n, to, deadline);
}

static ssize_t udp_recv(ax_udp *u, void *buf, size_t n, ax_udp_addr *from,
                        int64_t dl)
{
    ax_udp_addr a;
    struct iovec iov = {buf, n};
    struct msghdr mh;
    int rc = enter(u, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!buf && n)
        return AX_EINVAL;
    for (;;) {
        ssize_t r;
        memset(&mh, 0, sizeof mh);
        memset(&a, 0, sizeof a);
        mh.msg_name = &a.u;
        mh.msg_namelen = sizeof a.u;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        r = recvmsg(u->fd, &mh, 0);
        if (r >= 0) {
            a.len = mh.msg_namelen;
            if (from)
                *from = a;
            return (mh.msg_flags & MSG_TRUNC) ? AX_ETRUNC : r;
        }
        if (errno == EINTR)
            continue;
        if (!again(errno))
            return -errno;
        if ((rc = ax__io_wait(&u->io, AX__IO_READ, dl)))
            return rc;
    }
}

ssize_t ax_udp_recv(ax_udp *u, void *buf, size_t n, ax_udp_addr *from,
                    double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : udp_recv(u, buf, n, from, dl);
}

ssize_t ax_udp_recv_dl(ax_udp *u, void *buf, size_t n, ax_udp_addr *from,
                       int64_t deadline)
{
    return udp_recv(u, buf, n, from, deadline);
}

/* One datagram of a batch through recvmsg(), for systems without
 * recvmmsg(): the same result in one call per datagram. */
#if !NATIVE_BATCH
static int recvmmsg_loop(int fd, struct mmsghdr *v, unsigned k)
{
    unsigned i;

    for (i = 0; i < k; i++) {
        ssize_t r = recvmsg(fd, &v[i].msg_hdr, 0);
        if (r < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned)r;
    }
    return (int)i;
}

static int sendmmsg_loop(int fd, struct mmsghdr *v, unsigned k)
{
    unsigned i;

    for (i = 0; i < k; i++) {
        ssize_t w = sendmsg(fd, &v[i].msg_hdr, MSG_NOSIGNAL);
        if (w < 0)
            return i ? (int)i : -1;
        v[i].msg_len = (unsigned)w;
    }
    return (int)i;
}
#endif

static int udp_recv_batch(ax_udp *u, ax_udp_msg *msgs, size_t count,
                          int64_t dl)
{
    struct mmsghdr v[BATCH];
    struct iovec iov[BATCH];
    unsigned k = count < BATCH ? (unsigned)count : BATCH, i;
    int rc = enter(u, AX__IO_READ, dl);

    if (rc)
        return rc;
    if (!msgs || !count)
        return AX_EINVAL;
    for (i = 0; i < k; i++)
        if (!msgs[i].buf && msgs[i].len)
            return AX_EINVAL;
    for (;;) {
        int r;
        memset(v, 0, sizeof v[0] * k);
        for (i = 0; i < k; i++) {
            memset(&msgs[i].addr, 0, sizeof msgs[i].addr);
            iov[i].iov_base = msgs[i].buf;
            iov[i].iov_len = msgs[i].len;
            v[i].msg_hdr.msg_name = &msgs[i].addr.u;
            v[i].msg_hdr.msg_namelen = sizeof msgs[i].addr.u;
            v[i].msg_hdr.msg_iov = &iov[i];
            v[i].msg_hdr.msg_iovlen = 1;
        }
#if NATIVE_BATCH
        r = recvmmsg(u->fd, v, k, MSG_DONTWAIT, NULL);
#else
        r = recvmmsg_loop(u->fd, v, k);
#endif
        if (r > 0) {
            for (i = 0; i < (unsigned)r; i++) {
                bool trunc = v[i].msg_hdr.msg_flags & MSG_TRUNC;
                msgs[i].addr.len = v[i].msg_hdr.msg_namelen;
                msgs[i].truncated = trunc;
                msgs[i].n = trunc ? msgs[i].len : v[i].msg_len;
            }
            return r;
        }
        if (r == 0) /* only with k == 0, which was refused */
            return AX_EINVAL;
        if (errno == EINTR)
            continue;
        if (!again(errno))
            return -errno;
        if ((rc = ax__io_wait(&u->io, AX__IO_READ, dl)))
            return rc;
    }
}

int ax_udp_recv_batch(ax_udp *u, ax_udp_msg *msgs, size_t count,
                      double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : udp_recv_batch(u, msgs, count, dl);
}

int ax_udp_recv_batch_dl(ax_udp *u, ax_udp_msg *msgs, size_t count,
                         int64_t deadline)
{
    return udp_recv_batch(u, msgs, count, deadline);
}

static int udp_send_batch(ax_udp *u, const ax_udp_msg *msgs, size_t count,
                          int64_t dl)
{
    struct mmsghdr v[BATCH];
    struct iovec iov[BATCH];
    size_t done = 0, i;
    int rc = enter(u, AX__IO_WRITE, dl);

    if (rc)
        return rc;
    if (!msgs || !count || count > INT_MAX)
        return AX_EINVAL;
    for (i = 0; i < count; i++)
        if ((!msgs[i].buf && msgs[i].len) ||
            (msgs[i].addr.len && !addr_ok(&msgs[i].addr)))
            return AX_EINVAL;
    while (done < count) {
        unsigned k = count - done < BATCH ? (unsigned)(count - done) : BATCH;
        int r;
        memset(v, 0, sizeof v[0] * k);
        for (i = 0; i < k; i++) {
            const ax_udp_msg *m = &msgs[done + i];
            iov[i].iov_base = m->buf;
            iov[i].iov_len = m->len;
            if (m->addr.len) {
                v[i].msg_hdr.msg_name = (void *)&m->addr.u;
                v[i].msg_hdr.msg_namelen = m->addr.len;
            }
            v[i].msg_hdr.msg_iov = &iov[i];
            v[i].msg_hdr.msg_iovlen = 1;
        }
#if NATIVE_BATCH
        r = sendmmsg(u->fd, v, k, MSG_NOSIGNAL);
#else
        r = sendmmsg_loop(u->fd, v, k);
#endif
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && !again(errno))
            return done ? (int)done : -errno;
        if ((rc = ax__io_wait(&u->io, AX__IO_WRITE, dl)))
            return done ? (int)done : rc;
    }
    return (int)done;
}

int ax_udp_send_batch(ax_udp *u, const ax_udp_msg *msgs, size_t count,
                      double timeout)
{
    int64_t dl;
    int rc = to_deadline(timeout, &dl);

    return rc ? rc : udp_send_batch(u, msgs, count, dl);
}

int ax_udp_send_batch_dl(ax_udp *u, const ax_udp_msg *msgs, size_t count,
                         int64_t deadline)
{
    return udp_send_batch(u, msgs, count, deadline);
}
