/* SPDX-License-Identifier: MIT */
/*
 * What net.c asks of dns.c: connecting to a host name. Private, never
 * installed.
 */
#ifndef AX_NET_RESOLVE_H
#define AX_NET_RESOLVE_H

#include <stdint.h>

#include "axon/net.h"

/*
 * Resolve @p host (not an address literal) and connect to @p port on its
 * addresses with Happy Eyeballs (RFC 8305), all within @p deadline.
 * @return as ax_connect_dl(); the caller has checked @p out, @p port and
 *         @p deadline.
 * Suspends: yes.
 */
int ax__connect_name(ax_sock **out, const char *host, int port,
                     int64_t deadline);

#endif
