/* SPDX-License-Identifier: MIT */
/*
 * What the files of framework/net/ share about sockets beyond net.h.
 * Private, never installed.
 */
#ifndef AX_NET_SOCK_H
#define AX_NET_SOCK_H

#include <stdbool.h>
#include <string.h>

#include "axon/net.h"

/*
 * ax_sock_wrap() for a descriptor known to be a non-blocking stream socket
 * (made with SOCK_NONBLOCK, or by accept4() with it): the same socket
 * without ax_sock_wrap()'s fstat() and two fcntl() calls, three system
 * calls per accepted connection. @p tcp: it is a connected TCP socket,
 * whose reads may then skip the recv() that would say EAGAIN
 * (wait.h, ax__io_init_tcp()). The socket owns @p fd on success only.
 * @return 0; AX_EINVAL; AX_EPERM outside a loop; AX_ENOMEM.
 * Thread: the loop's. Suspends: no.
 */
int ax__sock_adopt(int fd, bool tcp, ax_sock **out);

struct ax__io;

/* The socket's fd watcher (wait.h), for ax_serve's parked connections,
 * and the socket of a watcher that ax__sock_io() gave. */
struct ax__io *ax__sock_io(ax_sock *s);
ax_sock *ax__sock_of_io(struct ax__io *io);

/*
 * Before @p s is parked (ax_serve_park()): is it idle? An empty read
 * buffer is given back (a parked connection holds none). Idle means
 * nothing buffered and the kernel has nothing either, so the next bytes
 * come with a read edge: known without a system call after a short read
 * and a write (the request/response pattern), else asked with one
 * recv(MSG_PEEK) whose EAGAIN also readies the watcher for that edge.
 * @return 1 idle; 0 something to read now (bytes, an end, an error).
 * Thread: the loop's. Suspends: no.
 */
int ax__sock_idle(ax_sock *s);

/*
 * Where @p needle (@p k bytes) first occurs in @p hay (@p n bytes), or
 * NULL: the search of ax_read_until() and ax_tls_read_until().
 * glibc's memmem() prepares a shift table for every call: about 300
 * instructions to find "\r\n\r\n" in a 40-byte request head. For a short
 * delimiter memchr() for its first byte and a compare is a fraction of
 * that; a long one keeps memmem(), whose time does not grow with the
 * delimiter's length on hostile input.
 */
static inline void *ax__memfind(const char *hay, size_t n, const char *needle,
                                size_t k)
{
    const char *p = hay, *last;

    if (!k || n < k)
        return NULL;
    if (k > 16)
        return memmem(hay, n, needle, k);
    last = hay + (n - k); /* the last place a match can start */
    while (p <= last &&
           (p = memchr(p, needle[0], (size_t)(last - p) + 1)) != NULL) {
        if (memcmp(p + 1, needle + 1, k - 1) == 0)
            return (void *)p;
        p++;
    }
    return NULL;
}

#endif
