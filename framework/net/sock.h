/* SPDX-License-Identifier: MIT */
/*
 * What the files of framework/net/ share about sockets beyond net.h.
 * Private, never installed.
 */
#ifndef AX_NET_SOCK_H
#define AX_NET_SOCK_H

#include <stdbool.h>

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

#endif
