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

#endif
