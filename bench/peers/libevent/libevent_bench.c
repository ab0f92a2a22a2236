/* SPDX-License-Identifier: MIT */
/*
 * libevent_bench: raw libevent callbacks doing the hand-overs of axon's
 * workloads, with no tasks, stacks or mailboxes: the floor of what a loop
 * costs. axon runs on libevent, so these are what its scheduling adds to.
 *
 *   cc -O2 -o libevent_bench libevent_bench.c \
 *      $(pkg-config --cflags --libs libevent libevent_pthreads) -lpthread
 *   libevent_bench [--quick] [--only w1,w2,...]
 *
 * Workloads (RESULT <workload> libevent <value> <unit> <better>):
 *  ctxswitch      two events activate each other with event_active();
 *                 ns per callback (one hand-over = one "switch").
 *  pingpong_same  the same two events, counted as round trips (2 callbacks).
 *  pingpong_cross two threads, an event_base each (evthread_use_pthreads);
 *                 each callback event_active()s the other base's event, so
 *                 every hand-over crosses threads through the target base's
 *                 notification fd. Round trips per second.
 *  ring           503 events in a ring; the callback decrements a token and
 *                 activates the next; hops per second.
 *  gather_fanout  100,000 evtimer_new + evtimer_add of 1 ms, a counter and
 *                 a sum of the indexes (checked); seconds from the first
 *                 evtimer_new until the last callback.
 * Not implemented (no natural version with bare callbacks): spawn_join,
 * parked_memory, skynet, fanin.
 *
 * Timing: CLOCK_MONOTONIC around the dispatch, event_base creation not
 * timed. Locking is on (evthread_use_pthreads) only for pingpong_cross's
 * bases; the one-thread workloads use EVENT_BASE_FLAG_NOLOCK bases, as a
 * single-threaded libevent program would.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int quick;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "libevent_bench: %s failed\n", what);
    exit(1);
}

static void result(const char *w, double v, const char *unit,
                   const char *better)
{
    printf("RESULT %s libevent %.6g %s %s\n", w, v, unit, better);
    fflush(stdout);
}

/* A base for one thread: no locks, even with evthread_use_pthreads(). */
static struct event_base *base_nolock(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg || event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK) != 0)
        die("event_config");
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base)
        die("event_base_new_with_config");
    return base;
}

/* ------------------------------------------------ two events, one base */
static struct event *ev_a, *ev_b;
static uint64_t left;

static void hand_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    if (left == 0)
        return; /* nothing pending: the loop ends */
    left--;
    event_active((struct event *)arg, EV_READ, 0);
}

/* @n callbacks in all; returns the seconds. */
static double two_events(uint64_t n)
{
    struct event_base *base = base_nolock();
    ev_a = event_new(base, -1, 0, hand_over, NULL);
    ev_b = event_new(base, -1, 0, hand_over, ev_a);
    if (!ev_a || !ev_b)
        die("event_new");
    event_assign(ev_a, base, -1, 0, hand_over, ev_b);
    left = n - 1;
    double t0 = now();
    event_active(ev_a, EV_READ, 0);
    event_base_dispatch(base);
    double dt = now() - t0;
    event_free(ev_a);
    event_free(ev_b);
    event_base_free(base);
    return dt;
}

static void ctxswitch(void)
{
    uint64_t n = quick ? 1000000 : 10000000;
    double dt = two_events(n);
    printf("ctxswitch      %10" PRIu64 " callbacks %7.3f s %7.1f "
           "ns/callback\n", n, dt, dt * 1e9 / (double)n);
    result("ctxswitch", dt * 1e9 / (double)n, "ns/switch", "lower");
}

static void pingpong_same(void)
{
    uint64_t rt = quick ? 500000 : 2000000;
    double dt = two_events(2 * rt);
    printf("pingpong_same  %10" PRIu64 " round trips %7.3f s %11.0f "
           "round trips/s\n", rt, dt, (double)rt / dt);
    result("pingpong_same", (double)rt / dt, "round-trips/s", "higher");
}

/* ----------------------------------------- two threads, a base each */
typedef struct side {
    struct event_base *base;
    struct event *ev;
    struct side *peer;
    uint64_t seen;
} side;

static uint64_t cross_n;
static side sides[2];

static void cross_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    side *s = arg;
    s->seen++;
    if (s == &sides[0] && s->seen > cross_n) { /* n round trips done */
        event_base_loopbreak(sides[0].base);
        event_base_loopbreak(sides[1].base);
        return;
    }
    event_active(s->peer->ev, EV_READ, 0);
}

static void *cross_thread(void *arg)
{
    side *s = arg;
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void pingpong_cross(void)
{
    cross_n = quick ? 20000 : 200000;
    for (int i = 0; i < 2; i++) {
        sides[i].base = event_base_new();
        if (!sides[i].base)
            die("event_base_new");
        sides[i].peer = &sides[1 - i];
        sides[i].seen = 0;
    }
    for (int i = 0; i < 2; i++)
        if (!(sides[i].ev = event_new(sides[i].base, -1, 0, cross_cb,
                                      &sides[i])))
            die("event_new");
    pthread_t th;
    if (pthread_create(&th, NULL, cross_thread, &sides[1]) != 0)
        die("pthread_create");
    double t0 = now();
    /* side 0's first callback is the start, not a reply: n+1 callbacks. */
    event_active(sides[0].ev, EV_READ, 0);
    event_base_loop(sides[0].base, EVLOOP_NO_EXIT_ON_EMPTY);
    double dt = now() - t0;
    pthread_join(th, NULL);
    if (sides[1].seen != cross_n) {
        printf("WRONG: %" PRIu64 " replies for %" PRIu64 " round trips\n",
               sides[1].seen, cross_n);
        exit(1);
    }
    for (int i = 0; i < 2; i++) {
        event_free(sides[i].ev);
        event_base_free(sides[i].base);
    }
    printf("pingpong_cross %10" PRIu64 " round trips %7.3f s %11.0f "
           "round trips/s %7.1f ns/round trip\n",
           cross_n, dt, (double)cross_n / dt, dt * 1e9 / (double)cross_n);
    result("pingpong_cross", (double)cross_n / dt, "round-trips/s", "higher");
}

/* ------------------------------------------------------------- ring */
#define RING 503
static struct event *ring_ev[RING];
static uint64_t token;
static int ring_last = -1;
static double ring_t1;

static void ring_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    int i = (int)(intptr_t)arg;
    if (token == 0) {
        ring_t1 = now();
        ring_last = i;
        return;
    }
    token--;
    event_active(ring_ev[(i + 1) % RING], EV_READ, 0);
}

static void ring(void)
{
    uint64_t hops = quick ? 1000000 : 10000000;
    struct event_base *base = base_nolock();
    for (int i = 0; i < RING; i++)
        if (!(ring_ev[i] = event_new(base, -1, 0, ring_cb,
                                     (void *)(intptr_t)i)))
            die("event_new");
    token = hops;
    double t0 = now();
    event_active(ring_ev[0], EV_READ, 0);
    event_base_dispatch(base);
    double dt = ring_t1 - t0;
    if (ring_last != (int)(hops % RING)) {
        printf("WRONG: the token ended at %d\n", ring_last);
        exit(1);
    }
    for (int i = 0; i < RING; i++)
        event_free(ring_ev[i]);
    event_base_free(base);
    printf("ring           %10" PRIu64 " hops %7.3f s %12.0f hops/s "
           "%7.1f ns/hop\n", hops, dt, (double)hops / dt,
           dt * 1e9 / (double)hops);
    result("ring", (double)hops / dt, "hops/s", "higher");
}

/* ---------------------------------------------------- gather_fanout */
typedef struct timer_child {
    struct event *ev;
    uint64_t index;
} timer_child;

static uint64_t fired, fired_sum;

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    timer_child *c = arg;
    fired++;
    fired_sum += c->index;
    event_free(c->ev);
}

static void gather_fanout(void)
{
    uint64_t n = 100000; /* fast: the full size even with --quick */
    struct event_base *base = base_nolock();
    timer_child *kids = calloc(n, sizeof *kids);
    if (!base || !kids)
        die("setup");
    memset(kids, 0, n * sizeof *kids); /* resident before timing */
    const struct timeval ms = {0, 1000};
    fired = fired_sum = 0;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        kids[i].index = i;
        if (!(kids[i].ev = evtimer_new(base, timer_cb, &kids[i])))
            die("evtimer_new");
        if (evtimer_add(kids[i].ev, &ms) != 0)
            die("evtimer_add");
    }
    event_base_dispatch(base); /* returns when no timer is left */
    double dt = now() - t0;
    uint64_t want = n * (n - 1) / 2;
    printf("gather_fanout  %10" PRIu64 " timers %7.3f s  sum %" PRIu64 "%s\n",
           n, dt, fired_sum, fired_sum == want && fired == n ? "" : " WRONG");
    if (fired_sum != want || fired != n) {
        printf("WRONG: expected %" PRIu64 "\n", want);
        exit(1);
    }
    free(kids);
    event_base_free(base);
    result("gather_fanout", dt, "s", "lower");
}

/* udp_echo: as bench/udp_echo.c, on one event_base: the echo socket's
 * callback reads every datagram waiting (recvfrom until EAGAIN) and sends
 * each back; the client's callback counts replies and sends the next
 * window of 32 datagrams of 64 bytes when a window is complete. One
 * system call per datagram each way (libevent has no recvmmsg). */
#define UDP_WINDOW 32
#define UDP_SIZE 64

struct udp_state {
    struct event_base *b;
    evutil_socket_t srv, cl;
    long count, sent, got;
    int in_window;
};

static void udp_send_window(struct udp_state *u)
{
    char out[UDP_SIZE] = {0};
    for (int i = 0; i < UDP_WINDOW; i++)
        if (send(u->cl, out, sizeof out, 0) != (ssize_t)sizeof out)
            die("udp send");
    u->sent += UDP_WINDOW;
    u->in_window = 0;
}

static void udp_echo_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[2048];
    struct sockaddr_storage from;
    (void)what;
    (void)arg;
    for (;;) {
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0,
                             (struct sockaddr *)&from, &fl);
        if (n < 0)
            return; /* EAGAIN: wait for more */
        sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
    }
}

static void udp_client_cb(evutil_socket_t fd, short what, void *arg)
{
    struct udp_state *u = arg;
    char buf[2048];
    (void)what;
    while (recv(fd, buf, sizeof buf, 0) > 0) {
        u->got++;
        if (++u->in_window == UDP_WINDOW) {
            if (u->got >= u->count) {
                event_base_loopbreak(u->b);
                return;
            }
            udp_send_window(u);
        }
    }
}

static void udp_echo(void)
{
    struct udp_state u = {.count = quick ? 50000 : 200000};
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u.b = event_base_new();
    u.srv = socket(AF_INET, SOCK_DGRAM, 0);
    u.cl = socket(AF_INET, SOCK_DGRAM, 0);
    if (!u.b || u.srv < 0 || u.cl < 0 ||
        bind(u.srv, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(u.srv, (struct sockaddr *)&a, &al) != 0 ||
        connect(u.cl, (struct sockaddr *)&a, sizeof a) != 0)
        die("udp setup");
    evutil_make_socket_nonblocking(u.srv);
    evutil_make_socket_nonblocking(u.cl);
    struct event *es = event_new(u.b, u.srv, EV_READ | EV_PERSIST,
                                 udp_echo_cb, &u);
    struct event *ec = event_new(u.b, u.cl, EV_READ | EV_PERSIST,
                                 udp_client_cb, &u);
    event_add(es, NULL);
    event_add(ec, NULL);
    double t0 = now();
    udp_send_window(&u);
    event_base_dispatch(u.b);
    double dt = now() - t0;
    printf("udp_echo %ld datagrams of %d bytes, window %d, %.3f s\n", u.got,
           UDP_SIZE, UDP_WINDOW, dt);
    result("udp_echo", (double)u.got / dt, "datagrams/s", "higher");
    event_free(es);
    event_free(ec);
    evutil_closesocket(u.srv);
    evutil_closesocket(u.cl);
    event_base_free(u.b);
}

static const struct {
    const char *name;
    void (*fn)(void);
} workloads[] = {
    {"ctxswitch", ctxswitch},
    {"pingpong_same", pingpong_same},
    {"pingpong_cross", pingpong_cross},
    {"ring", ring},
    {"gather_fanout", gather_fanout},
    {"udp_echo", udp_echo},
};
#define NWORK (sizeof workloads / sizeof workloads[0])

static int wanted(const char *only, const char *name)
{
    if (only == NULL)
        return 1;
    size_t k = strlen(name);
    for (const char *p = only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == k && strncmp(p, name, k) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < NWORK; k++)
                puts(workloads[k].name);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--only w1,w2] [--list]\n",
                    argv[0]);
            return 2;
        }
    }
    if (evthread_use_pthreads() != 0)
        die("evthread_use_pthreads");
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct event_base *b = event_base_new();
    printf("libevent %s, method %s\n", event_get_version(),
           b ? event_base_get_method(b) : "?");
    if (b)
        event_base_free(b);
    for (size_t k = 0; k < NWORK; k++)
        if (wanted(only, workloads[k].name))
            workloads[k].fn();
    return 0;
}
