/* SPDX-License-Identifier: MIT */
/**
 * @file axon/dns.h
 * @brief Name resolution without blocking the loop: ax_getaddrinfo()
 * (asyncio's loop.getaddrinfo).
 *
 * Lookups run on the calling loop through libevent's asynchronous resolver
 * (evdns): the calling task suspends, the loop's other tasks run on. Each
 * loop makes its resolver on its first lookup, reading, as the C library
 * does, the name servers, search domains and options of /etc/resolv.conf
 * and the names of /etc/hosts (the hosts file is looked at first). Only
 * DNS and the hosts file are consulted: other NSS sources of
 * /etc/nsswitch.conf (mDNS, LDAP, nscd) are not. ax_connect() resolves
 * names through the same resolver and connects with Happy Eyeballs (net.h).
 *
 * The resolver can be pointed elsewhere (tests point it at a dnsmasq on a
 * loopback port) with two environment variables, read when a loop makes
 * its resolver (its first lookup), so set them before ax_run():
 *
 *   - `AX_DNS_SERVER`: the name servers to ask instead of resolv.conf's,
 *     comma-separated, each "ADDRESS" or "ADDRESS:PORT" ("[V6]:PORT" for
 *     IPv6), e.g. `AX_DNS_SERVER=127.0.0.1:5353`. resolv.conf is then not
 *     read at all (no search domains).
 *   - `AX_HOSTS_FILE`: a hosts file to read instead of /etc/hosts; an
 *     empty value reads none.
 *
 * Why on the loop and not on the thread pool with getaddrinfo(): a lookup
 * costs no thread hand-off, a thousand concurrent lookups cost no
 * thousand blocked threads, a cancelled lookup is withdrawn instead of
 * occupying a pool thread until the C library gives up, and the resolver
 * can be configured per process as above (the C library's cannot). The
 * price is the NSS sources named above. bench/dns measures both.
 */
#ifndef AXON_DNS_H
#define AXON_DNS_H

#include <netdb.h>
#include <stdint.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* POSIX's struct addrinfo (netdb.h): declared here too, for a strict
 * ISO C compilation where netdb.h hides it; its fields and the AI_*
 * flags need _POSIX_C_SOURCE >= 200112L or _GNU_SOURCE. */
struct addrinfo;

/**
 * Resolve @p host (and @p service) to a list of addresses, as
 * getaddrinfo(3) does, without blocking the loop.
 * @param host     a DNS name ("example.com", at most 253 characters,
 *                 labels of letters, digits, '-' and '_' of at most 63),
 *                 a name of the hosts file, or a numeric IPv4 or IPv6
 *                 address (answered without asking anyone). Must not be
 *                 NULL or empty (ask for "0.0.0.0" or "::" for a
 *                 wildcard address).
 * @param service  a port number ("8080"), a service name of
 *                 /etc/services ("http"), or NULL for port 0.
 * @param hints    as for getaddrinfo(3): ai_family (AF_UNSPEC, AF_INET,
 *                 AF_INET6), ai_socktype, ai_protocol and the flags
 *                 AI_PASSIVE, AI_NUMERICHOST, AI_NUMERICSERV,
 *                 AI_CANONNAME, AI_ADDRCONFIG; NULL for none (then each
 *                 address may come once per socket type).
 * @param res      receives the list (ai_next links it); the caller frees
 *                 it with ax_freeaddrinfo() (not freeaddrinfo()). Set to
 *                 NULL on failure.
 * @param deadline absolute, ns on ax_now_ns()'s clock; -1: none. The
 *                 resolver's own timeouts and retries (resolv.conf's
 *                 `options timeout: attempts:`) apply inside it.
 * @return 0; AX_ENONAME (the name does not exist: NXDOMAIN, or it has no
 *         address of the asked family); AX_EDNSFAIL (the name server
 *         answered SERVFAIL or REFUSED, or could not be reached or did
 *         not answer within the resolver's own timeouts);
 *         AX_ESERVICE (@p service unknown, or not for the socket type);
 *         AX_ETIMEDOUT (@p deadline passed first; the lookup is
 *         withdrawn); AX_ECANCELED; AX_EINVAL (NULL @p res, NULL or empty
 *         @p host, a host that is no valid name: too long, an empty or
 *         over-long label, a character other than those above; bad
 *         @p hints; a deadline below -1); AX_ENOTTASK; AX_ENOMEM.
 *         For AX_ENONAME, AX_EDNSFAIL, AX_ESERVICE, an invalid host
 *         and AX_ETIMEDOUT, ax_dns_last_error() gives the reason. A name
 *         server that is down usually ends in AX_ETIMEDOUT: evdns keeps
 *         retrying it for its timeout times its attempts (resolv.conf's
 *         options; 5 s and 3 by default) before AX_EDNSFAIL.
 * Thread: a task of any loop. Suspends: yes, until the answer (not for a
 * numeric address or a hosts file name, answered at once).
 */
AX_EXTERN int ax_getaddrinfo(const char *host, const char *service,
                             const struct addrinfo *hints,
                             struct addrinfo **res, int64_t deadline);

/**
 * Free a list from ax_getaddrinfo(). NULL is allowed.
 * Thread: any. Suspends: no.
 */
AX_EXTERN void ax_freeaddrinfo(struct addrinfo *res);

/**
 * The resolver's reason for the calling thread's last failed lookup
 * (ax_getaddrinfo() or a name in ax_connect()), with the name, e.g.
 * "nosuch.test: nodename nor servname provided, or not known"; "" if
 * none failed yet. The text stays until the thread's next failed lookup
 * overwrites it.
 * Thread: any. Suspends: no.
 */
AX_EXTERN const char *ax_dns_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
