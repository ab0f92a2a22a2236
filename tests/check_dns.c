/* SPDX-License-Identifier: MIT */
/*
 * check_dns.c: tests for axon/dns.h and for names in ax_connect(), against
 * a real name server: Debian's dnsmasq, started here on a free loopback
 * port with its own hosts file (--no-resolv --no-hosts: it reads no system
 * configuration and forwards nothing), plus names from a test hosts file
 * (AX_HOSTS_FILE). dnsmasq is started with PR_SET_PDEATHSIG, so it dies
 * with this program even when a test crashes it, and is killed at the end.
 * Without dnsmasq the tests that need it print SKIP.
 *
 * Name servers answer in real time: the tests use the real clock (one
 * runs under the virtual clock to show a virtual deadline does not pass
 * before the answer). Timeouts are hang guards; the one that must fire
 * (a server that is down) bounds nothing from above.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_dns_suite(void);

#define GUARD 60.0 /* seconds: a hang guard, never a bound */
#define GUARD_NS ((int64_t)60 * 1000000000)

static char dir[64];   /* the temporary directory, or "" */
static int dns_port;   /* dnsmasq's port, 0 if it is not running */
static pid_t dns_pid;
static char server_env[64];

static const char *P(const char *name)
{
    static char buf[4][160];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void run_real(ax_task_fn fn, void *arg)
{
    int rc = ax_test_run_real(fn, arg, NULL);
    ck_assert_msg(rc == 0, "ax_run returned %d (%s); report:\n%s", rc,
                  ax_err_name(rc), ax_test_report());
    AXT_ASSERT_CLEAN();
}

/* ---- the harness ----------------------------------------------------- */

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return false;
    fputs(text, f);
    fclose(f);
    chmod(path, 0644); /* dnsmasq may read it as "nobody" */
    return true;
}

static const char *find_dnsmasq(void)
{
    static const char *const where[] = {"/usr/sbin/dnsmasq", "/sbin/dnsmasq",
                                        "/usr/bin/dnsmasq",
                                        "/usr/local/sbin/dnsmasq"};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++)
        if (access(where[i], X_OK) == 0)
            return where[i];
    return NULL;
}

static void start_dnsmasq(void)
{
    const char *bin = find_dnsmasq();
    char port_arg[32], hosts_arg[128];

    if (!bin || !dir[0])
        return;
    if (!write_file(P("dnsmasq.hosts"), "127.0.0.1 v4.test\n"
                                        "::1 v6.test\n"
                                        "127.0.0.1 both.test\n"
                                        "::1 both.test\n"))
        return;
    dns_port = axt_free_port(SOCK_DGRAM);
    if (dns_port <= 0) {
        dns_port = 0;
        return;
    }
    snprintf(port_arg, sizeof port_arg, "--port=%d", dns_port);
    snprintf(hosts_arg, sizeof hosts_arg, "--addn-hosts=%s",
             P("dnsmasq.hosts"));
    dns_pid = fork();
    if (dns_pid == 0) {
        int out = open(P("dnsmasq.out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the tests */
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        /* No configuration file, no /etc/resolv.conf, no /etc/hosts, no
         * upstream: names under .test come from our hosts file, anything
         * else under .test is NXDOMAIN (--local). */
        execl(bin, "dnsmasq", "--conf-file=/dev/null", "--no-daemon",
              "--no-resolv", "--no-hosts", hosts_arg, port_arg,
              "--listen-address=127.0.0.1", "--bind-interfaces",
              "--local=/test/", "--pid-file=", (char *)NULL);
        _exit(127);
    }
    /* Up to 10 s for its TCP port: a hang guard, not a timing assertion. */
    for (int i = 0; i < 1000 && dns_pid > 0; i++) {
        int st;
        if (waitpid(dns_pid, &st, WNOHANG) == dns_pid) {
            dns_pid = 0;
            break;
        }
        if (axt_port_open(dns_port))
            return;
        usleep(10000);
    }
    if (dns_pid > 0) {
        kill(dns_pid, SIGKILL);
        waitpid(dns_pid, NULL, 0);
    }
    dns_pid = 0;
    dns_port = 0;
}

static void cleanup(void)
{
    if (dns_pid > 0) {
        kill(dns_pid, SIGTERM);
        waitpid(dns_pid, NULL, 0);
        dns_pid = 0;
    }
    if (dir[0]) {
        unlink(P("dnsmasq.hosts"));
        unlink(P("dnsmasq.out"));
        unlink(P("axon.hosts"));
        rmdir(dir);
    }
    dir[0] = '\0';
}

#define NEED_DNSMASQ()                                                        \
    do {                                                                      \
        if (!dns_port)                                                        \
            AXT_SKIP("dnsmasq is not installed or did not start "            \
                     "(tests/install-deps.sh test)");                        \
    } while (0)

static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;

    a.sin6_addr = in6addr_loopback;
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- lookups ---------------------------------------------------------- */

typedef struct look {
    const char *host, *service;
    int family, socktype;
    int64_t timeout_ns; /* 0: the guard */
    int rc;
    int n4, n6;         /* addresses found per family */
    char first[INET6_ADDRSTRLEN];
    int port;
} look;

static void *look_main(void *arg)
{
    look *l = arg;
    struct addrinfo h, *res = (struct addrinfo *)1;

    memset(&h, 0, sizeof h);
    h.ai_family = l->family;
    h.ai_socktype = l->socktype ? l->socktype : SOCK_STREAM;
    l->rc = ax_getaddrinfo(l->host, l->service, &h, &res,
                           ax_now_ns() +
                               (l->timeout_ns ? l->timeout_ns : GUARD_NS));
    if (l->rc) {
        ck_assert_ptr_null(res);
        return NULL;
    }
    ck_assert_ptr_nonnull(res);
    for (struct addrinfo *p = res; p; p = p->ai_next) {
        const void *a = p->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)p->ai_addr)
                                  ->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)
                                                  p->ai_addr)
                                  ->sin6_addr;
        if (p == res) {
            inet_ntop(p->ai_family, a, l->first, sizeof l->first);
            l->port = ntohs(p->ai_family == AF_INET
                                ? ((struct sockaddr_in *)p->ai_addr)->sin_port
                                : ((struct sockaddr_in6 *)p->ai_addr)
                                      ->sin6_port);
        }
        ck_assert_int_eq(p->ai_socktype, SOCK_STREAM);
        if (p->ai_family == AF_INET)
            l->n4++;
        else if (p->ai_family == AF_INET6)
            l->n6++;
    }
    ax_freeaddrinfo(res);
    return NULL;
}

static look lookup(const char *host, const char *service, int family)
{
    look l = {.host = host, .service = service, .family = family};

    run_real(look_main, &l);
    return l;
}

START_TEST(test_hosts_file_name)
{
    look l = lookup("hostsfile.test", "8080", AF_UNSPEC);

    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "127.0.0.1");
    ck_assert_int_eq(l.port, 8080);
    ck_assert_int_eq(l.n4, 1);
    ck_assert_int_eq(l.n6, 0);
}
END_TEST

START_TEST(test_numeric_and_service_names)
{
    look l = lookup("127.0.0.1", "http", AF_UNSPEC);

    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "127.0.0.1");
    ck_assert_int_eq(l.port, 80);
    l = lookup("::1", "443", AF_INET6);
    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "::1");
    ck_assert_int_eq(l.port, 443);
    l = lookup("127.0.0.1", "no-such-service-here", AF_UNSPEC);
    axt_assert_rc(l.rc, AX_ESERVICE);
}
END_TEST

START_TEST(test_dnsmasq_a)
{
    look l;

    NEED_DNSMASQ();
    l = lookup("v4.test", "53", AF_INET);
    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "127.0.0.1");
    ck_assert_int_eq(l.n4, 1);
    ck_assert_int_eq(l.n6, 0);
    /* It has no AAAA: the name exists, with no address of that family. */
    l = lookup("v4.test", "53", AF_INET6);
    axt_assert_rc(l.rc, AX_ENONAME);
}
END_TEST

START_TEST(test_dnsmasq_aaaa)
{
    look l;

    NEED_DNSMASQ();
    l = lookup("v6.test", NULL, AF_INET6);
    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "::1");
    ck_assert_int_eq(l.n6, 1);
    ck_assert_int_eq(l.n4, 0);
}
END_TEST

START_TEST(test_dnsmasq_both_families)
{
    look l;

    NEED_DNSMASQ();
    l = lookup("both.test", "80", AF_UNSPEC);
    axt_assert_rc(l.rc, 0);
    ck_assert_int_eq(l.n4, 1);
    ck_assert_int_eq(l.n6, 1);
}
END_TEST

START_TEST(test_nxdomain)
{
    look l;

    NEED_DNSMASQ();
    l = lookup("nosuch.test", "80", AF_UNSPEC);
    axt_assert_rc(l.rc, AX_ENONAME);
    /* The reason names the name (the thread ran the loop: it is ours). */
    ck_assert_msg(strstr(ax_dns_last_error(), "nosuch.test"),
                  "last error: %s", ax_dns_last_error());
    ck_assert_str_ne(ax_strerror(AX_ENONAME), "");
    ck_assert_str_eq(ax_err_name(AX_ENONAME), "AX_ENONAME");
}
END_TEST

/* A name server's port with nothing on it: the lookup ends with the
 * resolver's failure or at the deadline, never later and never with an
 * answer. */
START_TEST(test_server_down)
{
    char env[64];
    look l = {.host = "v4.test", .service = "80", .family = AF_INET,
              .timeout_ns = 1500000000};

    snprintf(env, sizeof env, "127.0.0.1:%d", axt_free_port(SOCK_DGRAM));
    setenv("AX_DNS_SERVER", env, 1);
    setenv("AX_HOSTS_FILE", "", 1);
    run_real(look_main, &l);
    ck_assert_msg(l.rc == AX_ETIMEDOUT || l.rc == AX_EDNSFAIL,
                  "server down gave %s", ax_err_name(l.rc));
    /* The reason names the name and the server that was asked. */
    ck_assert_msg(strstr(ax_dns_last_error(), "v4.test") &&
                      strstr(ax_dns_last_error(), env + strlen("127.0.0.1:")),
                  "last error: %s", ax_dns_last_error());
    setenv("AX_DNS_SERVER", server_env, 1);
    setenv("AX_HOSTS_FILE", P("axon.hosts"), 1);
}
END_TEST

/* A server that takes the question and never answers: cancelling the
 * waiting task withdraws the lookup at once, and the loop closes clean
 * (the withdrawn request's memory goes back to evdns). */
static void *lookup_forever(void *arg)
{
    struct addrinfo *res = NULL;

    (void)arg;
    return (void *)(intptr_t)ax_getaddrinfo("v4.test", "80", NULL, &res, -1);
}

static void *cancel_main(void *arg)
{
    ax_task *t;
    void *r = NULL;

    (void)arg;
    axt_assert_rc(ax_spawn(&t, lookup_forever, NULL), 0);
    axt_assert_rc(ax_sleep(0.05), 0);
    axt_assert_rc(ax_cancel(t), 0);
    ck_assert_int_eq(ax_await(t, &r), AX_ECANCELED);
    return NULL;
}

START_TEST(test_cancel_withdraws)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t n = sizeof a;
    int mute = socket(AF_INET, SOCK_DGRAM, 0);
    char env[64];

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(mute, 0);
    ck_assert_int_eq(bind(mute, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(mute, (struct sockaddr *)&a, &n), 0);
    snprintf(env, sizeof env, "127.0.0.1:%d", ntohs(a.sin_port));
    setenv("AX_DNS_SERVER", env, 1);
    setenv("AX_HOSTS_FILE", "", 1);
    run_real(cancel_main, NULL);
    setenv("AX_DNS_SERVER", server_env, 1);
    setenv("AX_HOSTS_FILE", P("axon.hosts"), 1);
    close(mute);
}
END_TEST

/* Under the virtual clock a lookup's deadline is real time's: the answer
 * from dnsmasq comes although nothing else keeps the loop busy. */
START_TEST(test_virtual_clock)
{
    look l = {.host = "v4.test", .service = "80", .family = AF_INET,
              .timeout_ns = 5000000000};

    NEED_DNSMASQ();
    AXT_RUN_CLEAN(look_main, &l, NULL);
    axt_assert_rc(l.rc, 0);
    ck_assert_str_eq(l.first, "127.0.0.1");
}
END_TEST

/* Each loop has its own resolver, made on its first lookup and freed at
 * the runtime's end: lookups on two loops at once. */
static void *loop_lookups(void *arg)
{
    const char *host = arg;
    struct addrinfo *res = NULL;

    for (int i = 0; i < 3; i++) {
        axt_assert_rc(ax_getaddrinfo(host, "80", NULL, &res,
                                     ax_now_ns() + GUARD_NS),
                      0);
        ck_assert_ptr_nonnull(res);
        ax_freeaddrinfo(res);
        res = NULL;
    }
    return NULL;
}

static void *two_loops_main(void *arg)
{
    ax_task *t;

    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, loop_lookups, arg), 0);
    loop_lookups(arg);
    axt_assert_rc(ax_await(t, NULL), 0);
    return NULL;
}

START_TEST(test_two_loops)
{
    AXT_RUN_LOOPS_CLEAN(2, two_loops_main,
                        (void *)(dns_port ? "v4.test" : "hostsfile.test"));
}
END_TEST

/* ---- bad input --------------------------------------------------------- */

static void *bad_main(void *arg)
{
    struct addrinfo *res = (struct addrinfo *)1, h;
    char longname[300], label[80];
    const char nul_name[] = "hostsfile.test\0v6.test";
    ax_sock *s = NULL;

    (void)arg;
    /* NULL and empty hosts. */
    axt_assert_rc(ax_getaddrinfo(NULL, "80", NULL, &res, -1), AX_EINVAL);
    ck_assert_ptr_null(res);
    axt_assert_rc(ax_getaddrinfo("", "80", NULL, &res, -1), AX_EINVAL);
    axt_assert_rc(ax_getaddrinfo("v4.test", "80", NULL, NULL, -1),
                  AX_EINVAL);
    axt_assert_rc(ax_getaddrinfo("v4.test", "80", NULL, &res, -2),
                  AX_EINVAL);
    /* 254 characters (labels of 50): over the 253 a name may have. */
    memset(longname, 'a', sizeof longname);
    for (int i = 50; i < 254; i += 51)
        longname[i] = '.';
    longname[254] = '\0';
    axt_assert_rc(ax_getaddrinfo(longname, "80", NULL, &res, -1), AX_EINVAL);
    ck_assert_msg(strstr(ax_dns_last_error(), "not a valid host name"),
                  "last error: %s", ax_dns_last_error());
    axt_assert_rc(ax_connect(&s, longname, 80, GUARD), AX_EINVAL);
    /* A label of 64 characters. */
    memset(label, 'b', 64);
    strcpy(label + 64, ".test");
    axt_assert_rc(ax_getaddrinfo(label, "80", NULL, &res, -1), AX_EINVAL);
    /* Garbage. */
    static const char *const garbage[] = {
        "bad..test", ".test", "exa mple.test", "a\x01b.test", "\xff.test",
        "host/x.test", "a.test..", "x\ny.test"};
    for (size_t i = 0; i < sizeof garbage / sizeof *garbage; i++) {
        int rc = ax_getaddrinfo(garbage[i], "80", NULL, &res, -1);
        ck_assert_msg(rc == AX_EINVAL, "'%s' gave %s", garbage[i],
                      ax_err_name(rc));
    }
    axt_assert_rc(ax_connect(&s, "bad..test", 80, GUARD), AX_EINVAL);
    /* A C string ends at its NUL: what follows is never looked at. */
    axt_assert_rc(ax_getaddrinfo(nul_name, "80", NULL, &res, -1), 0);
    ck_assert_int_eq(res->ai_family, AF_INET);
    ax_freeaddrinfo(res);
    ax_freeaddrinfo(NULL);
    /* Bad hints: a family that is none. */
    memset(&h, 0, sizeof h);
    h.ai_family = 12345;
    axt_assert_rc(ax_getaddrinfo("hostsfile.test", "80", &h, &res, -1),
                  AX_EINVAL);
    /* ax_connect's own checks come before any lookup. */
    axt_assert_rc(ax_connect(NULL, "hostsfile.test", 80, GUARD), AX_EINVAL);
    axt_assert_rc(ax_connect(&s, "hostsfile.test", 0, GUARD), AX_EINVAL);
    axt_assert_rc(ax_connect_dl(&s, "hostsfile.test", 80, -2), AX_EINVAL);
    return NULL;
}

START_TEST(test_bad_input)
{
    struct addrinfo *res = NULL;

    run_real(bad_main, NULL);
    /* Outside a task there is nobody to suspend. */
    axt_assert_rc(ax_getaddrinfo("hostsfile.test", "80", NULL, &res, -1),
                  AX_ENOTTASK);
    ck_assert_ptr_null(res);
}
END_TEST

/* ---- ax_connect by name ------------------------------------------------ */

typedef struct conn {
    const char *host;
    int rc;
    int family; /* of the peer address the connection got */
    int port;   /* the test's listeners' port */
    char byte;
} conn;

static void *connect_main(void *arg)
{
    conn *c = arg;
    ax_sock *l, *s, *a;
    struct sockaddr_storage peer;
    socklen_t n = sizeof peer;
    char b = 0;

    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    c->port = ax_sock_port(l);
    c->rc = ax_connect(&s, c->host, c->port, GUARD);
    if (c->rc) {
        ax_close(l);
        return NULL;
    }
    ck_assert_int_eq(getpeername(ax_sock_fd(s), (struct sockaddr *)&peer, &n),
                     0);
    c->family = peer.ss_family;
    axt_assert_rc(ax_accept(l, &a, GUARD), 0);
    axt_assert_rc(ax_write_all(s, "x", 1, GUARD), 0);
    axt_assert_rc(ax_read_exact(a, &b, 1, GUARD), 0);
    c->byte = b;
    ax_close(a);
    ax_close(s);
    ax_close(l);
    return NULL;
}

START_TEST(test_connect_hosts_file_name)
{
    conn c = {.host = "hostsfile.test"};

    run_real(connect_main, &c);
    axt_assert_rc(c.rc, 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_int_eq(c.byte, 'x');
}
END_TEST

START_TEST(test_connect_dnsmasq_name)
{
    conn c = {.host = "v4.test"};

    NEED_DNSMASQ();
    run_real(connect_main, &c);
    axt_assert_rc(c.rc, 0);
    ck_assert_int_eq(c.family, AF_INET);
    ck_assert_int_eq(c.byte, 'x');
    c = (conn){.host = "nosuch.test"};
    run_real(connect_main, &c);
    axt_assert_rc(c.rc, AX_ENONAME);
}
END_TEST

/* ---- Happy Eyeballs ---------------------------------------------------- */

/*
 * he.test has a v4 and a v6 address (the test hosts file). On one family
 * a listener answers; on the other the port has a listener whose accept
 * queue is full, so the kernel drops new SYNs: a connection attempt there
 * hangs, as toward a black-holed address. Whichever family the resolver
 * lists first, the connection must end on the answering one, which it
 * can only do by starting the second attempt while the first still hangs.
 */
typedef struct he_case {
    int good_family;
    int rc;
    int family; /* the family the connection got */
} he_case;

static int raw_listen(int family, int port, int backlog)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0 ||
        listen(fd, backlog) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int fd_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t n = sizeof ss;

    if (getsockname(fd, (struct sockaddr *)&ss, &n) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET
                     ? ((struct sockaddr_in *)&ss)->sin_port
                     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Fill @p lfd's accept queue until a connection attempt stays pending.
 * @return how many sockets were used (kept open in @p fds), or -1. */
static int fill_queue(int family, int port, int *fds, int max)
{
    for (int i = 0; i < max; i++) {
        struct sockaddr_storage ss;
        socklen_t len;
        struct pollfd p;
        memset(&ss, 0, sizeof ss);
        if (family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            a->sin_family = AF_INET;
            a->sin_port = htons(port);
            a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            len = sizeof *a;
        } else {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(port);
            a->sin6_addr = in6addr_loopback;
            len = sizeof *a;
        }
        fds[i] = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        0);
        if (fds[i] < 0)
            return -1;
        if (connect(fds[i], (struct sockaddr *)&ss, len) == 0)
            continue;
        if (errno != EINPROGRESS)
            return -1;
        p = (struct pollfd){.fd = fds[i], .events = POLLOUT};
        /* 200 ms without the handshake: the queue is full. This wait
         * only decides how many fillers are needed, it asserts nothing. */
        if (poll(&p, 1, 200) == 0)
            return i + 1;
    }
    return -1;
}

static void *he_main(void *arg)
{
    he_case *h = arg;
    int bad_family = h->good_family == AF_INET ? AF_INET6 : AF_INET;
    int good = -1, bad = -1, fillers[16], nfill = -1, port = 0;
    ax_sock *s;
    struct sockaddr_storage peer;
    socklen_t n = sizeof peer;

    /* The same port number on both loopback addresses. */
    for (int tries = 0; tries < 20 && bad < 0; tries++) {
        good = raw_listen(h->good_family, 0, 16);
        ck_assert_int_ge(good, 0);
        port = fd_port(good);
        bad = raw_listen(bad_family, port, 0);
        if (bad < 0)
            close(good);
    }
    ck_assert_int_ge(bad, 0);
    nfill = fill_queue(bad_family, port, fillers, 16);
    ck_assert_int_gt(nfill, 0);
    h->rc = ax_connect(&s, "he.test", port, GUARD);
    if (!h->rc) {
        ck_assert_int_eq(
            getpeername(ax_sock_fd(s), (struct sockaddr *)&peer, &n), 0);
        h->family = peer.ss_family;
        ax_close(s);
    }
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    close(good);
    close(bad);
    return NULL;
}

START_TEST(test_happy_eyeballs_v6_hangs)
{
    he_case h = {.good_family = AF_INET};

    if (!have_ipv6_loopback())
        AXT_SKIP("no IPv6 loopback");
    run_real(he_main, &h);
    axt_assert_rc(h.rc, 0);
    ck_assert_int_eq(h.family, AF_INET);
}
END_TEST

START_TEST(test_happy_eyeballs_v4_hangs)
{
    he_case h = {.good_family = AF_INET6};

    if (!have_ipv6_loopback())
        AXT_SKIP("no IPv6 loopback");
    run_real(he_main, &h);
    axt_assert_rc(h.rc, 0);
    ck_assert_int_eq(h.family, AF_INET6);
}
END_TEST

/* Both addresses refuse: the first attempt's error, within the guard. */
static void *refused_main(void *arg)
{
    ax_sock *s;
    int port = axt_free_port(SOCK_STREAM);

    (void)arg;
    axt_assert_rc(ax_connect(&s, "he.test", port, GUARD), AX_ECONNREFUSED);
    return NULL;
}

START_TEST(test_happy_eyeballs_all_refused)
{
    if (!have_ipv6_loopback())
        AXT_SKIP("no IPv6 loopback");
    run_real(refused_main, NULL);
}
END_TEST

Suite *ax_dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("dns");

    tcase_set_timeout(tc, AXT_TIMEOUT);
    tcase_add_test(tc, test_hosts_file_name);
    tcase_add_test(tc, test_numeric_and_service_names);
    tcase_add_test(tc, test_dnsmasq_a);
    tcase_add_test(tc, test_dnsmasq_aaaa);
    tcase_add_test(tc, test_dnsmasq_both_families);
    tcase_add_test(tc, test_nxdomain);
    tcase_add_test(tc, test_server_down);
    tcase_add_test(tc, test_cancel_withdraws);
    tcase_add_test(tc, test_virtual_clock);
    tcase_add_test(tc, test_two_loops);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_connect_hosts_file_name);
    tcase_add_test(tc, test_connect_dnsmasq_name);
    tcase_add_test(tc, test_happy_eyeballs_v6_hangs);
    tcase_add_test(tc, test_happy_eyeballs_v4_hangs);
    tcase_add_test(tc, test_happy_eyeballs_all_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc;

    snprintf(dir, sizeof dir, "%s/axdns.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
    } else {
        chmod(dir, 0755); /* dnsmasq may read its hosts file as "nobody" */
        write_file(P("axon.hosts"), "127.0.0.1 hostsfile.test\n"
                                    "127.0.0.1 he.test\n"
                                    "::1 he.test\n");
        start_dnsmasq();
    }
    /* Every lookup of these tests goes to our dnsmasq and hosts file, or
     * (without dnsmasq) to a port where nothing answers. */
    snprintf(server_env, sizeof server_env, "127.0.0.1:%d",
             dns_port ? dns_port : axt_free_port(SOCK_DGRAM));
    setenv("AX_DNS_SERVER", server_env, 1);
    setenv("AX_HOSTS_FILE", P("axon.hosts"), 1);
    rc = ax_test_main(ax_dns_suite());
    cleanup();
    return rc;
}
