/* SPDX-License-Identifier: MIT */
/*
 * Name resolution on the loop (libevent's evdns) and connecting to a name
 * with Happy Eyeballs (RFC 8305).
 *
 * Each loop has its own evdns_base, made on the loop's first lookup and
 * freed when the runtime ends (ax__dns_slot()). A lookup is started, the
 * task parks, and evdns's callback, which runs on the loop, unparks it.
 * The wait is a real-time one (ax__park_dl()): the answer comes from a
 * name server, not from a task, so the virtual clock must not run ahead
 * of it.
 *
 * Withdrawing a lookup (deadline, cancellation) is not synchronous in
 * evdns: evdns_getaddrinfo_cancel() answers the callback with
 * EVUTIL_EAI_CANCEL from a deferred callback on a later loop iteration.
 * The request lives on the waiting task's stack, so the task stays,
 * shielded, until that answer came; it costs one loop iteration and keeps
 * evdns from writing into a frame that is gone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "axon/dns.h"
#include "axon/error.h"
#include "axon/loop.h"
#include "axon/net.h"
#include "axon/task.h"
#include "resolve.h"
#include "sock.h"
#include "wait.h"

/* RFC 8305 section 5's recommended Connection Attempt Delay, also
 * asyncio's happy_eyeballs_delay in its documentation's example. */
#define HE_DELAY_NS 250000000LL
/* A name longer than this is refused before anyone is asked. */
#define NAME_MAX_LEN 253
#define LABEL_MAX_LEN 63

/* ---- the reason text ------------------------------------------------ */

static _Thread_local char last_err[256];

const char *ax_dns_last_error(void) { return last_err; }

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void set_err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_err, sizeof last_err, fmt, ap);
    va_end(ap);
}

/* ---- the loop's resolver -------------------------------------------- */

static void resolver_free(void *state)
{
    /* Every lookup has been answered or withdrawn by then: lookups wait
     * for their callback even when cancelled, and tasks have ended. */
    evdns_base_free(state, 0);
}

static int add_servers(struct evdns_base *b, const char *list)
{
    char buf[128];

    while (*list) {
        size_t n = strcspn(list, ",");
        if (n && n < sizeof buf) {
            memcpy(buf, list, n);
            buf[n] = '\0';
            if (evdns_base_nameserver_ip_add(b, buf) != 0) {
                set_err("AX_DNS_SERVER: '%s' is not ADDRESS[:PORT]", buf);
                return AX_EINVAL;
            }
        } else if (n) {
            set_err("AX_DNS_SERVER: an entry is too long");
            return AX_EINVAL;
        }
        list += n + (list[n] == ',');
    }
    if (evdns_base_count_nameservers(b) == 0) {
        set_err("AX_DNS_SERVER names no server");
        return AX_EINVAL;
    }
    return 0;
}

static int resolver(struct evdns_base **out)
{
    void **slot = ax__dns_slot(resolver_free);
    const char *srv = getenv("AX_DNS_SERVER");
    const char *hosts = getenv("AX_HOSTS_FILE");
    struct evdns_base *b;
    int rc = 0;

    if (!slot)
        return ax_loop_current() ? AX_ENOMEM : AX_EPERM;
    if (*slot) {
        *out = *slot;
        return 0;
    }
    /* Inactive, the resolver keeps no event registered: an idle loop
     * with a resolver is idle (deadlock detection, the loop's end). */
    b = evdns_base_new(ax_loop_base(ax_loop_current()),
                       EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!b)
        return AX_ENOMEM;
    if (srv && *srv) {
        rc = add_servers(b, srv);
        /* Without /etc/hosts names go to the servers alone. */
        if (!rc && !hosts)
            (void)evdns_base_load_hosts(b, NULL);
    } else {
        int flags = DNS_OPTIONS_ALL;
        if (hosts)
            flags &= ~DNS_OPTION_HOSTSFILE;
        /* A missing resolv.conf leaves evdns asking 127.0.0.1, as the C
         * library does: not an error here. */
        (void)evdns_base_resolv_conf_parse(b, flags, "/etc/resolv.conf");
    }
    if (!rc && hosts && *hosts && evdns_base_load_hosts(b, hosts) != 0) {
        set_err("AX_HOSTS_FILE: cannot read '%s'", hosts);
        rc = AX_EINVAL;
    }
    if (rc) {
        evdns_base_free(b, 0);
        return rc;
    }
    *slot = b;
    *out = b;
    return 0;
}

/* ---- checking a host name ------------------------------------------- */

/* An address literal, or a name made of labels of letters, digits, '-'
 * and '_' (some hosts carry one), at most 63 each and 253 in all, with an
 * optional final dot. Everything else is refused here rather than sent
 * to a name server as a question no server can answer. IPv6 literals
 * (with a ':') are left to the resolver's own parser, which refuses what
 * it cannot read. */
static bool valid_host(const char *h)
{
    size_t n = strlen(h), label = 0;

    if (!n)
        return false;
    if (strchr(h, ':')) {
        for (const char *p = h; *p; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                  (*p >= 'A' && *p <= 'Z') || *p == ':' || *p == '.' ||
                  *p == '%' || *p == '_' || *p == '-'))
                return false;
        return n < INET6_ADDRSTRLEN + 64;
    }
    if (h[n - 1] == '.')
        n--;
    if (!n || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (!label)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
        if (++label > LABEL_MAX_LEN)
            return false;
    }
    return label > 0;
}

/* ---- the lookup ----------------------------------------------------- */

typedef struct lookup {
    struct evdns_getaddrinfo_request *req;
    ax_task *parked; /* set only around the park */
    bool done;
    int result;
    struct evutil_addrinfo *res;
} lookup;

static void on_answer(int result, struct evutil_addrinfo *res, void *arg)
{
    lookup *q = arg;

    q->done = true;
    q->result = result;
    q->res = res;
    if (q->parked) {
        ax__unpark(q->parked);
        q->parked = NULL;
    }
}

static int map_gai(int e)
{
    if (e == EVUTIL_EAI_NONAME || e == EVUTIL_EAI_NODATA ||
        e == EVUTIL_EAI_ADDRFAMILY)
        return AX_ENONAME;
    if (e == EVUTIL_EAI_AGAIN || e == EVUTIL_EAI_FAIL ||
        e == EVUTIL_EAI_SYSTEM)
        return AX_EDNSFAIL;
    if (e == EVUTIL_EAI_SERVICE)
        return AX_ESERVICE;
    if (e == EVUTIL_EAI_MEMORY)
        return AX_ENOMEM;
    return AX_EINVAL; /* EAI_BADFLAGS, EAI_FAMILY, EAI_SOCKTYPE */
}

/* The first name server, for the reason text of a failed lookup. */
static void server_text(struct evdns_base *b, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int len = evdns_base_get_nameserver_addr(b, 0, (struct sockaddr *)&ss,
                                             sizeof ss);

    buf[0] = '\0';
    if (len <= 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, n, " (name server %s port %d%s)", ip, port,
             evdns_base_count_nameservers(b) > 1 ? " and others" : "");
}

/* One node of a list we hand out: the addrinfo, its address and its
 * canonical name in one allocation, so the caller frees with one walk
 * and evdns's list goes back to evdns at once. */
typedef struct node {
    struct addrinfo ai;
    struct sockaddr_storage addr;
} node;

void ax_freeaddrinfo(struct addrinfo *res)
{
    while (res) {
        struct addrinfo *next = res->ai_next;
        ax__free(res->ai_canonname);
        ax__free(res);
        res = next;
    }
}

static int copy_list(const struct evutil_addrinfo *src, struct addrinfo **out)
{
    struct addrinfo *head = NULL, **tail = &head;

    for (; src; src = src->ai_next) {
        node *n;
        if (!src->ai_addr || src->ai_addrlen > sizeof n->addr)
            continue;
        n = ax__calloc(1, sizeof *n);
        if (!n)
            goto fail;
        n->ai.ai_flags = src->ai_flags;
        n->ai.ai_family = src->ai_family;
        n->ai.ai_socktype = src->ai_socktype;
        n->ai.ai_protocol = src->ai_protocol;
        n->ai.ai_addrlen = (socklen_t)src->ai_addrlen;
        memcpy(&n->addr, src->ai_addr, src->ai_addrlen);
        n->ai.ai_addr = (struct sockaddr *)&n->addr;
        *tail = &n->ai;
        tail = &n->ai.ai_next;
        if (src->ai_canonname) {
            size_t k = strlen(src->ai_canonname) + 1;
            if (!(n->ai.ai_canonname = ax__malloc(k)))
                goto fail;
            memcpy(n->ai.ai_canonname, src->ai_canonname, k);
        }
    }
    *out = head;
    return 0;

fail:
    ax_freeaddrinfo(head);
    return AX_ENOMEM;
}

/*
 * Park until *done, the deadline or a cancellation. On the last two,
 * withdraw(arg) and wait, shielded, for the callback that answers the
 * withdrawal (evdns answers it from a deferred callback, and the request
 * state lives in the caller's frame).
 * @return 0 (done); AX_ETIMEDOUT; AX_ECANCELED.
 */
static int await_answer(bool *done, ax_task **parked, int64_t deadline,
                        void (*withdraw)(void *), void *arg, const char *what)
{
    int rc = 0;

    while (!*done) {
        *parked = ax_task_self();
        rc = ax__park_dl(what, deadline);
        *parked = NULL;
        if (*done)
            return 0;
        if (rc == AX_ETIMEDOUT || rc == AX_ECANCELED || rc == AX_ENOMEM)
            break;
    }
    if (*done)
        return 0;
    bool was = ax__shield(true);
    withdraw(arg);
    while (!*done) {
        *parked = ax_task_self();
        ax__park_dl("withdrawing a name lookup", -1);
        *parked = NULL;
    }
    ax__shield(was);
    return rc;
}

static void withdraw_lookup(void *arg)
{
    evdns_getaddrinfo_cancel(((lookup *)arg)->req);
}

/* ---- why a lookup failed --------------------------------------------- */

/*
 * evdns_getaddrinfo() folds every DNS failure but NXDOMAIN into
 * EVUTIL_EAI_FAIL: "no address of that family" (NOERROR with no answer),
 * SERVFAIL, REFUSED and no answer at all look the same. So after an
 * EAI_FAIL one plain query of the same name asks again, and its DNS
 * status tells them apart. It costs a round trip on failures only, and
 * at most PROBE_NS more when the server does not answer (the resolver's
 * own timeouts have then passed once already).
 */
#define PROBE_NS 1000000000LL

typedef struct probe {
    struct evdns_base *base;
    struct evdns_request *req;
    ax_task *parked;
    bool done;
    int result, count;
} probe;

static void on_probe(int result, char type, int count, int ttl,
                     void *addresses, void *arg)
{
    probe *p = arg;

    (void)type;
    (void)ttl;
    (void)addresses;
    p->done = true;
    p->result = result;
    p->count = count;
    if (p->parked) {
        ax__unpark(p->parked);
        p->parked = NULL;
    }
}

static void withdraw_probe(void *arg)
{
    probe *p = arg;

    evdns_cancel_request(p->base, p->req);
}

/* @return AX_ENONAME or AX_EDNSFAIL with the reason set; AX_ETIMEDOUT or
 * AX_ECANCELED when the caller's deadline or a cancellation came first. */
static int why_failed(struct evdns_base *b, const char *host, int family,
                      int64_t deadline, const char *srv)
{
    probe p = {.base = b};
    int64_t bound = ax_now_ns() + PROBE_NS;
    int rc;

    p.req = family == AF_INET6
                ? evdns_base_resolve_ipv6(b, host, 0, on_probe, &p)
                : evdns_base_resolve_ipv4(b, host, 0, on_probe, &p);
    if (!p.req && !p.done) {
        set_err("%.200s: the resolver failed%s", host, srv);
        return AX_EDNSFAIL;
    }
    rc = await_answer(&p.done, &p.parked,
                      deadline >= 0 && deadline < bound ? deadline : bound,
                      withdraw_probe, &p, "resolving a name");
    if (rc == AX_ECANCELED || (rc && deadline >= 0 && deadline <= bound))
        return rc;
    if (rc)
        p.result = DNS_ERR_TIMEOUT;
    switch (p.result) {
    case DNS_ERR_NONE:
        if (p.count > 0) {
            set_err("%.200s: the name server failed, then answered%s", host,
                    srv);
            return AX_EDNSFAIL;
        }
        /* fall through */
    case DNS_ERR_NODATA:
        set_err("%.200s: no %s address (the name exists)%s", host,
                family == AF_INET6 ? "IPv6" : "IPv4", srv);
        return AX_ENONAME;
    case DNS_ERR_NOTEXIST:
        set_err("%.200s: no such name (NXDOMAIN)%s", host, srv);
        return AX_ENONAME;
    case DNS_ERR_TIMEOUT:
        set_err("%.200s: the name server did not answer (down, unreachable "
                "or too slow)%s",
                host, srv);
        return AX_EDNSFAIL;
    default:
        set_err("%.200s: %s%s", host, evdns_err_to_string(p.result), srv);
        return AX_EDNSFAIL;
    }
}

/* ---- the service ------------------------------------------------------ */

/* The port of @p service, as a number for evdns: evdns would look a name
 * up with getservbyname(), which is not thread-safe, and would report an
 * unknown one as an unknown host. */
static int service_port(const char *service, const struct addrinfo *hints,
                        char *buf, size_t n)
{
    char *end;
    long v;

    if (!service)
        return 0;
    errno = 0;
    v = strtol(service, &end, 10);
    if (*service && !*end && !errno && v >= 0 && v <= 65535 &&
        *service >= '0' && *service <= '9') {
        snprintf(buf, n, "%ld", v);
        return 0;
    }
    if (!(hints && (hints->ai_flags & AI_NUMERICSERV)) && *service &&
        strlen(service) < 64) {
        struct servent se, *r = NULL;
        char sbuf[1024];
        const char *proto = hints && hints->ai_socktype == SOCK_DGRAM
                                ? "udp"
                                : "tcp";
        if (getservbyname_r(service, proto, &se, sbuf, sizeof sbuf, &r) == 0 &&
            r) {
            snprintf(buf, n, "%d", ntohs((uint16_t)r->s_port));
            return 0;
        }
    }
    set_err("'%.60s': no such service", service);
    return AX_ESERVICE;
}

int ax_getaddrinfo(const char *host, const char *service,
                   const struct addrinfo *hints, struct addrinfo **res,
                   int64_t deadline)
{
    struct evdns_base *b;
    struct evutil_addrinfo h, *hp = NULL;
    lookup q = {0};
    char port[8], srv[96];
    int rc = 0;

    if (res)
        *res = NULL;
    if (!res || !host || deadline < -1)
        return AX_EINVAL;
    if (!valid_host(host)) {
        set_err("'%.200s' is not a valid host name", host);
        return AX_EINVAL;
    }
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (ax__shared_stack()) /* the request state lives on the stack */
        return AX_ENOTSUP;
    if ((rc = service_port(service, hints, port, sizeof port)))
        return rc;
    if (hints) {
        memset(&h, 0, sizeof h);
        h.ai_flags = hints->ai_flags;
        h.ai_family = hints->ai_family;
        h.ai_socktype = hints->ai_socktype;
        h.ai_protocol = hints->ai_protocol;
        hp = &h;
    }
    if ((rc = resolver(&b)))
        return rc;
    /* An answer from the hosts file or a literal comes synchronously,
     * before evdns_getaddrinfo() returns (and then it returns NULL). */
    q.req = evdns_getaddrinfo(b, host, service ? port : NULL, hp, on_answer,
                              &q);
    if (!q.req && !q.done)
        return AX_ENOMEM; /* not started, and no answer will come */
    rc = await_answer(&q.done, &q.parked, deadline, withdraw_lookup, &q,
                      "resolving a name");
    if (rc) {
        if (q.res)
            evutil_freeaddrinfo(q.res);
        if (rc == AX_ETIMEDOUT) {
            server_text(b, srv, sizeof srv);
            set_err("%.200s: no answer before the deadline%s", host, srv);
        }
        return rc;
    }
    if (q.result) {
        if (q.res)
            evutil_freeaddrinfo(q.res);
        server_text(b, srv, sizeof srv);
        if (q.result == EVUTIL_EAI_FAIL)
            return why_failed(b, host, hints ? hints->ai_family : AF_UNSPEC,
                              deadline, srv);
        set_err("%.200s: %s%s", host, evutil_gai_strerror(q.result), srv);
        return map_gai(q.result);
    }
    rc = copy_list(q.res, res);
    evutil_freeaddrinfo(q.res);
    if (!rc && !*res) {
        set_err("%.200s: no address of the asked kind", host);
        rc = AX_ENONAME;
    }
    return rc;
}

/* ---- Happy Eyeballs ------------------------------------------------- */

/*
 * RFC 8305 over the resolved list: the addresses are interleaved by
 * family (the first address's family first, as asyncio does with
 * interleave=1), and attempt i+1 starts when attempt i failed or
 * HE_DELAY_NS after it started, whichever comes first. The first
 * handshake to complete wins; the other attempts are closed. The calling
 * task waits for all its attempts at once: each pending attempt has a
 * one-shot libevent write event whose callback records the outcome and
 * unparks the task.
 */
typedef struct attempt {
    struct he *he;
    struct event *ev;
    int fd;
    int err; /* 0: pending or connected */
    bool done;
} attempt;

typedef struct he {
    attempt *at;
    size_t n;
    ax_task *parked;
    attempt *winner;
} he;

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
    attempt *a = arg;
    int err = 0;
    socklen_t len = sizeof err;

    (void)what;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    a->done = true;
    a->err = err;
    if (!err && !a->he->winner)
        a->he->winner = a;
    if (a->he->parked) {
        ax__unpark(a->he->parked);
        a->he->parked = NULL;
    }
}

/* Start attempt @p a on @p ai; one that fails at once is done with
 * a->err set. */
static void start(he *h, attempt *a, const struct addrinfo *ai)
{
    int one = 1;

    a->he = h;
    a->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    if (a->fd < 0)
        goto fail;
    setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(a->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        a->done = true;
        if (!h->winner)
            h->winner = a;
        return;
    }
    if (errno != EINPROGRESS)
        goto fail;
    a->ev = event_new(ax_loop_base(ax_loop_current()), a->fd, EV_WRITE,
                      on_writable, a);
    if (!a->ev || event_add(a->ev, NULL) != 0) {
        errno = ENOMEM;
        goto fail;
    }
    return;

fail:
    a->err = errno;
    a->done = true;
    if (a->ev) {
        event_free(a->ev);
        a->ev = NULL;
    }
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

/* Order @p list as RFC 8305 section 4 asks: alternate the families,
 * starting with the first address's. Fills @p out with n pointers. */
static size_t interleave(struct addrinfo *list, struct addrinfo **out)
{
    struct addrinfo *other = NULL, *p, *q;
    size_t n = 0;

    if (!list)
        return 0;
    for (p = list; p; p = p->ai_next)
        if (!other && p->ai_family != list->ai_family)
            other = p;
    /* Two cursors, one per family, in the resolver's order each. */
    p = list;
    q = other;
    while (p || q) {
        while (p && p->ai_family != list->ai_family)
            p = p->ai_next;
        if (p) {
            out[n++] = p;
            p = p->ai_next;
        }
        while (q && q->ai_family == list->ai_family)
            q = q->ai_next;
        if (q) {
            out[n++] = q;
            q = q->ai_next;
        }
    }
    return n;
}

int ax__connect_name(ax_sock **out, const char *host, int port,
                     int64_t deadline)
{
    struct addrinfo hints, *list = NULL, **order = NULL;
    char service[8];
    he h = {0};
    size_t n = 0, next = 0;
    int64_t next_at = 0;
    int rc;

    if (ax__shared_stack()) /* the attempts live on the stack */
        return AX_ENOTSUP;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof service, "%d", port);
    if ((rc = ax_getaddrinfo(host, service, &hints, &list, deadline)))
        return rc;
    for (struct addrinfo *p = list; p; p = p->ai_next)
        n++;
    order = ax__calloc(n, sizeof *order);
    h.at = ax__calloc(n, sizeof *h.at);
    if (!order || !h.at) {
        rc = AX_ENOMEM;
        goto out;
    }
    n = interleave(list, order);
    h.n = n;
    for (size_t i = 0; i < n; i++)
        h.at[i].fd = -1;
    for (;;) {
        bool pending = false;
        int64_t now = ax_now_ns(), wake;
        /* Start the next attempt when the delay is up or when nothing
         * is pending any more (the previous one failed). */
        for (size_t i = 0; i < next; i++)
            pending |= !h.at[i].done;
        if (!h.winner && next < n && (!pending || now >= next_at)) {
            start(&h, &h.at[next], order[next]);
            next++;
            next_at = now + HE_DELAY_NS;
            continue;
        }
        if (h.winner)
            break;
        if (!pending) {
            /* Every address tried, every attempt failed: the first
             * address's reason, the one a caller would look at first. */
            rc = h.at[0].err ? -h.at[0].err : AX_ECONNREFUSED;
            goto out;
        }
        wake = deadline;
        if (next < n && (wake < 0 || next_at < wake))
            wake = next_at;
        h.parked = ax_task_self();
        rc = ax__park_dl("connecting (happy eyeballs)", wake);
        h.parked = NULL;
        if (rc == AX_ECANCELED || rc == AX_ENOMEM ||
            (rc == AX_ETIMEDOUT && wake == deadline && !h.winner))
            goto out;
        /* Otherwise: an attempt ended, or it is time for the next. */
    }
    /* The winner's one-shot event goes before the socket's own
     * registration takes the descriptor. */
    if (h.winner->ev) {
        event_free(h.winner->ev);
        h.winner->ev = NULL;
    }
    /* Made with SOCK_NONBLOCK (start()): a TCP socket to adopt. */
    rc = ax__sock_adopt(h.winner->fd, true, out);
    if (!rc)
        h.winner->fd = -1;

out:
    for (size_t i = 0; h.at && i < h.n; i++) {
        if (h.at[i].ev)
            event_free(h.at[i].ev);
        if (h.at[i].fd >= 0)
            close(h.at[i].fd);
    }
    ax__free(h.at);
    ax__free(order);
    ax_freeaddrinfo(list);
    return rc;
}
