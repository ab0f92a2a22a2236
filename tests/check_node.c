/* SPDX-License-Identifier: MIT */
/*
 * tests/check_node.c -- axon/node.h (libaxon-nats) against real
 * nats-server processes on free loopback ports, and against a second axon
 * process (tests/node_peer).
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "axon.h"
#include "axon/node.h"
#include "axon/supervisor.h"
#include "axtest.h"
#include "nats_harness.h"

/* Heartbeats of the tests' nodes: a node is declared down after 2 s of
 * silence, slack enough for valgrind. */
#define HB 0.25
#define MISSES 8

static char url[64];
static axn_proc srv = {-1, -1}, peer = {-1, -1};

static void url_of(char *out, size_t n, int port)
{
    snprintf(out, n, "nats://127.0.0.1:%d", port);
}

/* One server on a free port, or a SKIP. */
static bool start_server(const char *conf)
{
    int port = axt_free_port(SOCK_STREAM);

    if (!AX_NATS_SERVER[0])
        return false;
    srv = axn_server(port, 0, NULL, conf);
    ck_assert_msg(srv.pid > 0, "nats-server did not start on port %d", port);
    url_of(url, sizeof url, port);
    return true;
}

static const char *peer_path(void)
{
    static char path[1024];
    const char *top = getenv("AX_TOP_BUILDDIR");

    snprintf(path, sizeof path, "%s/tests/node_peer", top ? top : ".");
    return path;
}

/* Start tests/node_peer serving @p name on @p urls; waits for READY. */
static axn_proc start_peer(const char *urls, const char *name,
                           const char *group)
{
    char hb[16], line[128];
    char *argv[] = {(char *)peer_path(), (char *)urls, (char *)name,
                    (char *)(group ? group : "-"), hb, NULL};
    axn_proc p;

    snprintf(hb, sizeof hb, "%g", HB);
    p = axn_spawn(argv, true, false);
    ck_assert_msg(p.pid > 0, "could not start %s", argv[0]);
    ck_assert_msg(axn_read_line(&p, line, sizeof line, 20) &&
                      strncmp(line, "READY ", 6) == 0,
                  "node_peer did not get ready (got '%s')", line);
    return p;
}

static void stop_all(void)
{
    axn_kill(&peer);
    axn_kill(&srv);
}

static ax_node *connect_ok(const char *urls)
{
    ax_node_opts o;
    ax_node *n = NULL;

    memset(&o, 0, sizeof o);
    o.heartbeat = HB;
    o.heartbeat_misses = MISSES;
    o.reconnect_wait = 0.1;
    o.connect_timeout = 10;
    axt_assert_rc(ax_node_connect(&n, urls, &o), 0);
    return n;
}

/* Until the name is served (a server's interest may take a moment to
 * reach the others): true once an echo came back. */
static bool wait_served(ax_node *n, const char *name)
{
    int i, rc = AX_ENORESPONDERS;

    for (i = 0; i < 200 && rc != 0; i++) {
        rc = ax_node_call(n, name, 1, "x", 1, 1.0, NULL);
        if (rc != 0)
            ax_sleep(0.05);
    }
    return rc == 0;
}

/* ---- two processes through one server ------------------------------- */

static void *two_procs_main(void *arg)
{
    ax_node *n = connect_ok(url);
    ax_node_bytes *b = NULL;
    ax_future *futs[20];
    char buf[64];
    unsigned i;
    void *v;

    (void)arg;
    ck_assert(ax_node_connected(n));
    for (i = 0; i < 100; i++) {
        snprintf(buf, sizeof buf, "message %u", i);
        axt_assert_rc(ax_node_call(n, "echo", 1, buf, strlen(buf), 5, &b), 0);
        ck_assert_uint_eq(b->len, strlen(buf));
        ck_assert_str_eq(b->data, buf);
        ax_node_bytes_free(b);
    }
    /* asks in flight together, awaited like local futures */
    for (i = 0; i < 20; i++) {
        snprintf(buf, sizeof buf, "ask %u", i);
        axt_assert_rc(ax_node_ask(n, "echo", 1, buf, strlen(buf), 5, &futs[i]),
                      0);
    }
    for (i = 0; i < 20; i++) {
        snprintf(buf, sizeof buf, "ask %u", i);
        axt_assert_rc(ax_await(futs[i], &v), 0);
        ck_assert_str_eq(((ax_node_bytes *)v)->data, buf);
        ax_node_bytes_free(v);
        ax_future_free(futs[i]);
    }
    /* acknowledged sends, then casts: all counted, in order before the
     * ask that reads the count */
    for (i = 0; i < 100; i++)
        axt_assert_rc(ax_node_send(n, "echo", 2, &i, 4, 5), 0);
    for (i = 100; i < 150; i++)
        axt_assert_rc(ax_node_cast(n, "echo", 2, &i, 4), 0);
    axt_assert_rc(ax_node_call(n, "echo", 4, NULL, 0, 5, &b), 0);
    ck_assert_str_eq(b->data, "150");
    ax_node_bytes_free(b);
    axt_assert_rc(ax_node_call(n, "echo", 3, NULL, 0, 5, &b), 0);
    ck_assert_str_eq(b->data, "bye");
    ax_node_bytes_free(b);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(two_processes)
{
    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed (tests/install-deps.sh test)");
        return;
    }
    peer = start_peer(url, "echo", NULL);
    ck_assert_int_eq(ax_test_run_real(two_procs_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(axn_wait(&peer, 20), 0);
    stop_all();
}
END_TEST

/* ---- queue groups: a worker pool of two processes -------------------- */

static void *pool_main(void *arg)
{
    ax_node *n = connect_ok(url);
    ax_node_bytes *b;
    unsigned i, c1, c2;
    int k;

    (void)arg;
    for (i = 0; i < 200; i++)
        axt_assert_rc(ax_node_send(n, "pool", 2, &i, 4, 5), 0);
    /* each worker answers with its own count; asks go to either, so ask
     * until both have answered "stop" */
    c2 = 0;
    for (k = 0; k < 2; k++) {
        /* "your count, then stop": the second goes to the one left */
        axt_assert_rc(ax_node_call(n, "pool", 8, NULL, 0, 5, &b), 0);
        c1 = (unsigned)atoi(b->data);
        ax_node_bytes_free(b);
        c2 += c1;
    }
    /* every message went to exactly one worker */
    ck_assert_uint_eq(c2, 200);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(queue_group)
{
    axn_proc p2;

    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed (tests/install-deps.sh test)");
        return;
    }
    peer = start_peer(url, "pool", "workers");
    p2 = start_peer(url, "pool", "workers");
    ck_assert_int_eq(ax_test_run_real(pool_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(axn_wait(&peer, 20), 0);
    ck_assert_int_eq(axn_wait(&p2, 20), 0);
    stop_all();
}
END_TEST

/* ---- bad input -------------------------------------------------------- */

static void *unknown_main(void *arg)
{
    ax_node *n = connect_ok(url);
    ax_future *f;

    (void)arg;
    /* unknown name: no responders, not a timeout */
    axt_assert_rc(ax_node_call(n, "nobody", 1, "x", 1, 10, NULL),
                  AX_ENORESPONDERS);
    axt_assert_rc(ax_node_send(n, "nobody", 1, "x", 1, 10),
                  AX_ENORESPONDERS);
    axt_assert_rc(ax_node_ask(n, "nobody", 1, NULL, 0, 10, &f), 0);
    axt_assert_rc(ax_await(f, NULL), AX_ENORESPONDERS);
    ax_future_free(f);
    /* a cast reports nothing */
    axt_assert_rc(ax_node_cast(n, "nobody", 1, "x", 1), 0);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(unknown_name)
{
    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    ck_assert_int_eq(ax_test_run_real(unknown_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    stop_all();
}
END_TEST

static void *sink_actor(void *arg)
{
    ax_msg m;
    int *got = arg;

    while (ax_recv(&m, -1) == 0) {
        ax_node_msg *nm = m.data;
        if (nm->tag == 9) {
            ax_node_reply(nm, NULL, 0);
            ax_node_msg_free(nm);
            break;
        }
        (*got)++;
        if (nm->wants_reply)
            ax_node_reply(nm, nm->data, nm->len);
        ax_node_msg_free(nm);
    }
    return NULL;
}

static void *payload_main(void *arg)
{
    ax_node *n = connect_ok(url);
    ax_actor_ref a;
    static char big[5000];
    int got = 0;

    (void)arg;
    ax_actor_spawn(&a, sink_actor, &got, NULL);
    axt_assert_rc(ax_node_register(n, "sink", a, NULL), 0);
    /* the server's max_payload is 4096 */
    axt_assert_rc(ax_node_cast(n, "sink", 1, big, sizeof big), AX_E2BIG);
    axt_assert_rc(ax_node_send(n, "sink", 1, big, sizeof big, 5), AX_E2BIG);
    axt_assert_rc(ax_node_call(n, "sink", 1, big, sizeof big, 5, NULL),
                  AX_E2BIG);
    axt_assert_rc(ax_node_call(n, "sink", 1, big, 4000, 5, NULL), 0);
    axt_assert_rc(ax_node_call(n, "sink", 9, NULL, 0, 5, NULL), 0);
    ck_assert_int_eq(got, 1);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(payload_over_max)
{
    if (!start_server("max_payload: 4096\n")) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    ck_assert_int_eq(ax_test_run_real(payload_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    stop_all();
}
END_TEST

static void *server_down_main(void *arg)
{
    ax_node_opts o;
    ax_node *n = NULL;
    char u[64];

    (void)arg;
    memset(&o, 0, sizeof o);
    o.connect_timeout = 1;
    url_of(u, sizeof u, axt_free_port(SOCK_STREAM));
    axt_assert_rc(ax_node_connect(&n, u, &o), AX_ECONNREFUSED);
    ck_assert_ptr_null(n);
    return NULL;
}

START_TEST(server_down_at_connect)
{
    ck_assert_int_eq(ax_test_run_real(server_down_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
}
END_TEST

/* A plain libnats client on a thread of its own (its request blocks)
 * publishes bytes that are not axon frames on the subject of a registered
 * name. */
static atomic_int raw_done;

static void *raw_client(void *arg)
{
    natsConnection *raw = NULL;
    natsMsg *reply = NULL;

    (void)arg;
    ck_assert_int_eq(natsConnection_ConnectTo(&raw, url), NATS_OK);
    ck_assert_int_eq(natsConnection_PublishString(raw, "axon.n.sink", "junk"),
                     NATS_OK);
    ck_assert_int_eq(natsConnection_Publish(raw, "axon.n.sink", NULL, 0),
                     NATS_OK);
    /* a request gets an axon frame back saying so */
    ck_assert_int_eq(natsConnection_RequestString(&reply, raw, "axon.n.sink",
                                                  "AX\001\003 but short", 5000),
                     NATS_OK);
    ck_assert_int_eq(natsMsg_GetDataLength(reply), 12);
    ck_assert_mem_eq(natsMsg_GetData(reply), "AX\001\004", 4);
    {
        const unsigned char *p =
            (const unsigned char *)natsMsg_GetData(reply) + 8;
        uint32_t st = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                      (uint32_t)p[2] << 8 | (uint32_t)p[3];
        ck_assert_int_eq((int32_t)st, AX_EBADFRAME);
    }
    natsMsg_Destroy(reply);
    /* garbage on the node's private subject is counted too */
    ck_assert_int_eq(natsConnection_PublishString(raw, "axon.node.x.r.1", "z"),
                     NATS_OK);
    ck_assert_int_eq(natsConnection_Flush(raw), NATS_OK);
    natsConnection_Destroy(raw);
    atomic_store(&raw_done, 1);
    return NULL;
}

static void *garbage_main(void *arg)
{
    ax_node_opts o;
    ax_node *n = NULL;
    ax_actor_ref a;
    ax_node_stats st;
    pthread_t th;
    int got = 0;

    (void)arg;
    memset(&o, 0, sizeof o);
    o.connect_timeout = 10;
    o.name = "x"; /* so that axon.node.x.r.1 is its private subject */
    axt_assert_rc(ax_node_connect(&n, url, &o), 0);
    ax_actor_spawn(&a, sink_actor, &got, NULL);
    axt_assert_rc(ax_node_register(n, "sink", a, NULL), 0);
    /* the registration's interest reaches the server first */
    axt_assert_rc(ax_node_call(n, "sink", 1, "ok", 2, 5, NULL), 0);
    atomic_store(&raw_done, 0);
    ck_assert_int_eq(pthread_create(&th, NULL, raw_client, NULL), 0);
    while (!atomic_load(&raw_done))
        ax_sleep(0.01);
    pthread_join(th, NULL);
    /* the node still works, and the actor saw nothing of it */
    axt_assert_rc(ax_node_call(n, "sink", 1, "ok", 2, 5, NULL), 0);
    axt_assert_rc(ax_node_stats_get(n, &st), 0);
    ck_assert_uint_eq(st.garbage, 4);
    axt_assert_rc(ax_node_call(n, "sink", 9, NULL, 0, 5, NULL), 0);
    ck_assert_int_eq(got, 2);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(garbage_on_subject)
{
    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    ck_assert_int_eq(ax_test_run_real(garbage_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    stop_all();
}
END_TEST

static void *bad_args_main(void *arg)
{
    ax_node *n = connect_ok(url), *n2 = NULL;
    ax_node_opts o;
    ax_actor_ref a;
    ax_future *f = NULL;
    int got = 0;

    (void)arg;
    ax_actor_spawn(&a, sink_actor, &got, NULL);
    axt_assert_rc(ax_node_connect(NULL, url, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_connect(&n2, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_connect(&n2, " , ", NULL), AX_EINVAL);
    memset(&o, 0, sizeof o);
    o.prefix = "bad prefix";
    axt_assert_rc(ax_node_connect(&n2, url, &o), AX_EINVAL);
    o.prefix = NULL;
    o.name = "a.b";
    axt_assert_rc(ax_node_connect(&n2, url, &o), AX_EINVAL);
    /* names: empty, wildcard, spaces, dots at the ends, too long */
    axt_assert_rc(ax_node_register(n, "", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "a.*", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "a b", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, ".a", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "a..b", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, NULL, a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "ok", AX_ACTOR_NONE, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "ok", a, "bad group"), AX_EINVAL);
    axt_assert_rc(ax_node_register(NULL, "ok", a, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "svc.ok", a, NULL), 0);
    axt_assert_rc(ax_node_register(n, "svc.ok", a, NULL), AX_EALREADY);
    axt_assert_rc(ax_node_cast(n, "svc.ok", 1, NULL, 3), AX_EINVAL);
    axt_assert_rc(ax_node_cast(n, "svc.>", 1, NULL, 0), AX_EINVAL);
    axt_assert_rc(ax_node_call(n, "svc.ok", 1, NULL, 0, 0, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_call(n, "svc.ok", 1, NULL, 0, -1, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_ask(n, "svc.ok", 1, NULL, 0, 1, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_ask(n, "svc.ok", 1, NULL, 0, NAN, &f), AX_EINVAL);
    axt_assert_rc(ax_node_monitor(n, "svc.ok"), AX_ENOTACTOR);
    axt_assert_rc(ax_node_unregister(n, "nope"), AX_ESRCH);
    axt_assert_rc(ax_node_unregister(n, "svc.ok"), 0);
    axt_assert_rc(ax_node_reply(NULL, NULL, 0), AX_EINVAL);
    axt_assert_rc(ax_node_stats_get(n, NULL), AX_EINVAL);
    axt_assert_rc(ax_node_register(n, "svc.ok", a, NULL), 0);
    axt_assert_rc(ax_node_call(n, "svc.ok", 9, NULL, 0, 5, NULL), 0);
    axt_assert_rc(ax_node_close(n), 0);
    axt_assert_rc(ax_node_close(NULL), AX_EINVAL);
    return NULL;
}

START_TEST(bad_arguments)
{
    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    ck_assert_int_eq(ax_test_run_real(bad_args_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    stop_all();
}
END_TEST

START_TEST(records)
{
    void *buf = NULL;
    size_t len = 0, off = 0, n;
    const void *r;

    axt_assert_rc(ax_rec_put(&buf, &len, "abc", 3), 0);
    axt_assert_rc(ax_rec_put(&buf, &len, NULL, 0), 0);
    axt_assert_rc(ax_rec_put(&buf, &len, "de", 2), 0);
    axt_assert_rc(ax_rec_put(NULL, &len, "x", 1), AX_EINVAL);
    axt_assert_rc(ax_rec_put(&buf, &len, NULL, 1), AX_EINVAL);
    ck_assert_uint_eq(len, 4 + 3 + 4 + 4 + 2);
    axt_assert_rc(ax_rec_get(buf, len, &off, &r, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(r, "abc", 3);
    axt_assert_rc(ax_rec_get(buf, len, &off, &r, &n), 0);
    ck_assert_uint_eq(n, 0);
    axt_assert_rc(ax_rec_get(buf, len, &off, &r, &n), 0);
    ck_assert_mem_eq(r, "de", 2);
    axt_assert_rc(ax_rec_get(buf, len, &off, &r, &n), AX_EPIPE);
    /* truncated: a length with no body, half a length */
    off = 0;
    axt_assert_rc(ax_rec_get(buf, 5, &off, &r, &n), AX_EBADFRAME);
    off = 0;
    axt_assert_rc(ax_rec_get(buf, 2, &off, &r, &n), AX_EBADFRAME);
    axt_assert_rc(ax_rec_get(buf, len, NULL, &r, &n), AX_EINVAL);
    free(buf);
}
END_TEST

/* ---- monitors across nodes ------------------------------------------- */

typedef struct mon_case {
    ax_node *n;
    int tag;        /* what to ask the peer before waiting (0: nothing) */
    bool kill_peer; /* SIGKILL the peer instead */
    const char *name;
    int reason;     /* out: the DOWN's reason */
    char down_name[32];
} mon_case;

static void *watcher(void *arg)
{
    mon_case *c = arg;
    ax_msg m;
    int rc;

    axt_assert_rc(ax_node_monitor(c->n, c->name), 0);
    /* let the monitor's request reach the host first */
    axt_assert_rc(ax_node_call(c->n, c->name, 1, "x", 1, 5, NULL),
                  c->tag || c->kill_peer ? 0 : AX_ENORESPONDERS);
    if (c->tag)
        axt_assert_rc(ax_node_call(c->n, c->name, c->tag, NULL, 0, 5, NULL),
                      0);
    if (c->kill_peer)
        axn_kill(&peer);
    rc = ax_recv(&m, 30);
    axt_assert_rc(rc, 0);
    ck_assert_int_eq(m.tag, AX_MSG_DOWN);
    c->reason = m.reason;
    snprintf(c->down_name, sizeof c->down_name, "%s", (char *)m.data);
    free(m.data);
    return NULL;
}

static void *monitor_main(void *arg)
{
    mon_case *c = arg;
    ax_actor_ref w;
    ax_future *f;
    int i;

    c->n = connect_ok(url);
    ax_future_new(&f);
    ax_actor_spawn(&w, watcher, c, NULL);
    /* wait for the watcher to end (its DOWN came) */
    for (i = 0; i < 3000 && ax_actor_alive(w); i++)
        ax_sleep(0.01);
    ax_future_free(f);
    axt_assert_rc(ax_node_close(c->n), 0);
    return NULL;
}

START_TEST(monitor_remote_end)
{
    mon_case c = {0};

    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    /* a normal end: reason 0 */
    peer = start_peer(url, "w1", NULL);
    c.name = "w1";
    c.tag = 3;
    ck_assert_int_eq(ax_test_run_real(monitor_main, &c, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(c.reason, 0);
    ck_assert_str_eq(c.down_name, "w1");
    ck_assert_int_eq(axn_wait(&peer, 20), 0);
    /* a failure: its code */
    peer = start_peer(url, "w2", NULL);
    memset(&c, 0, sizeof c);
    c.name = "w2";
    c.tag = 7;
    ck_assert_int_eq(ax_test_run_real(monitor_main, &c, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(c.reason, AX_EPIPE);
    ck_assert_int_eq(axn_wait(&peer, 20), 0);
    stop_all();
}
END_TEST

START_TEST(monitor_remote_node_lost)
{
    mon_case c = {0};

    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    peer = start_peer(url, "w3", NULL);
    c.name = "w3";
    c.kill_peer = true;
    ck_assert_int_eq(ax_test_run_real(monitor_main, &c, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(c.reason, AX_ENODEDOWN);
    /* and a name nobody serves: at once */
    memset(&c, 0, sizeof c);
    c.name = "w4";
    ck_assert_int_eq(ax_test_run_real(monitor_main, &c, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert_int_eq(c.reason, AX_ENORESPONDERS);
    stop_all();
}
END_TEST

/* ---- a supervisor over a remote worker pool --------------------------- */

typedef struct sup_case {
    ax_node *n;
    int failed_reason; /* the stand-in of the worker that failed */
    int lost_reason;   /* a stand-in after the workers' node was killed */
    int sup_reason;    /* the supervisor's own end */
    bool replaced, other_kept, done;
} sup_case;

/* The next DOWN of @p who (other messages dropped); false after 20 s. */
static bool down_of(ax_actor_ref who, int *reason)
{
    ax_msg m;

    while (ax_recv(&m, 20) == 0) {
        if (m.tag == AX_MSG_DOWN && ax_ref_eq(m.from, who)) {
            *reason = m.reason;
            return true;
        }
    }
    return false;
}

static void *sup_actor(void *arg)
{
    sup_case *c = arg;
    ax_node_remote rem = {0};
    ax_sup_spec specs[2];
    ax_sup_opts so;
    ax_actor_ref sup, kids[2], now[2];
    size_t cnt = 0;
    int i;

    rem.node = c->n;
    rem.spawner = "pool";
    memset(specs, 0, sizeof specs);
    for (i = 0; i < 2; i++) {
        specs[i].name = "remote worker";
        specs[i].start = ax_node_sup_start;
        specs[i].arg = &rem;
    }
    memset(&so, 0, sizeof so);
    so.intensity = 3;
    so.period = 60;
    axt_assert_rc(ax_sup_start(&sup, &so, specs, 2), 0);
    axt_assert_rc(ax_monitor(sup), 0);
    axt_assert_rc(ax_sup_which_children(sup, kids, 2, &cnt), 0);
    ck_assert_uint_eq(cnt, 2);
    /* started in order: the spawner named them pool.w1 and pool.w2 */
    axt_assert_rc(ax_node_call(c->n, "pool.w2", 1, "x", 1, 5, NULL), 0);
    /* pool.w1 fails (AX_EPIPE): its stand-in ends with that reason, and
     * the supervisor replaces it by a new worker (pool.w3) */
    axt_assert_rc(ax_monitor(kids[0]), 0);
    axt_assert_rc(ax_node_call(c->n, "pool.w1", 7, NULL, 0, 5, NULL), 0);
    ck_assert(down_of(kids[0], &c->failed_reason));
    for (i = 0; i < 2000; i++) {
        axt_assert_rc(ax_sup_which_children(sup, now, 2, &cnt), 0);
        if (cnt == 2 && !ax_ref_eq(now[0], kids[0]))
            break;
        ax_sleep(0.01);
    }
    c->other_kept = ax_ref_eq(now[1], kids[1]);
    c->replaced = cnt == 2 && !ax_ref_eq(now[0], kids[0]) &&
                  ax_node_call(c->n, "pool.w3", 1, "x", 1, 5, NULL) == 0;
    /* the workers' node dies: both stand-ins end with AX_ENODEDOWN once
     * its heartbeats stop; the restarts find no spawner, and the
     * supervisor gives up */
    axt_assert_rc(ax_monitor(now[1]), 0);
    axn_kill(&peer);
    ck_assert(down_of(now[1], &c->lost_reason));
    ck_assert(down_of(sup, &c->sup_reason));
    c->done = true;
    return NULL;
}

static void *sup_main(void *arg)
{
    sup_case *c = arg;
    ax_actor_ref a;
    int i;
    ax_node_opts o;

    /* the workers' node is declared down after 1 s of silence (not 2):
     * the test's longest wait */
    memset(&o, 0, sizeof o);
    o.heartbeat = HB;
    o.heartbeat_misses = 4;
    o.connect_timeout = 10;
    axt_assert_rc(ax_node_connect(&c->n, url, &o), 0);
    axt_assert_rc(ax_actor_spawn(&a, sup_actor, c, NULL), 0);
    for (i = 0; i < 6000 && ax_actor_alive(a); i++)
        ax_sleep(0.01);
    axt_assert_rc(ax_node_close(c->n), 0);
    return NULL;
}

START_TEST(supervise_remote_pool)
{
    sup_case c = {0};

    if (!start_server(NULL)) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    peer = start_peer(url, "pool", "spawn");
    ck_assert_int_eq(ax_test_run_real(sup_main, &c, NULL), 0);
    AXT_ASSERT_CLEAN();
    ck_assert(c.done);
    ck_assert_int_eq(c.failed_reason, AX_EPIPE);
    ck_assert(c.replaced);
    ck_assert(c.other_kept);
    ck_assert_int_eq(c.lost_reason, AX_ENODEDOWN);
    ck_assert_int_eq(c.sup_reason, AX_ERESTARTS);
    stop_all();
}
END_TEST

/* ---- a 3-server cluster, one server killed mid-stream ---------------- */

#define CL_N 600

static axn_proc cl[3] = {{-1, -1}, {-1, -1}, {-1, -1}};
static char cl_url[3][64];

typedef struct cl_res {
    int ok, failed, events;
    unsigned char acked[CL_N / 8];
    unsigned char seen[512];
    int reconnects;
} cl_res;

static void on_ev(ax_node *n, int ev, void *arg)
{
    (void)n;
    if (ev == AX_NODE_RECONNECTED)
        ((cl_res *)arg)->reconnects++;
    ((cl_res *)arg)->events++;
}

static void *cluster_main(void *arg)
{
    cl_res *r = arg;
    ax_node_opts o;
    ax_node *n = NULL;
    ax_node_bytes *b;
    char urls[200];
    unsigned i;
    int rc;

    memset(&o, 0, sizeof o);
    o.heartbeat = HB;
    o.reconnect_wait = 0.1;
    o.max_reconnect = -1;
    o.on_event = on_ev;
    o.on_event_arg = r;
    /* this node starts on server 0 (the one that dies) and learns the
     * others from the cluster; the peer is on server 1 */
    snprintf(urls, sizeof urls, "%s", cl_url[0]);
    axt_assert_rc(ax_node_connect(&n, urls, &o), 0);
    ck_assert_msg(wait_served(n, "count"), "the peer never got served");
    for (i = 0; i < CL_N; i++) {
        if (i == CL_N / 3)
            axn_kill(&cl[0]);
        rc = ax_node_send(n, "count", 2, &i, 4, 2.0);
        if (rc == 0) {
            r->ok++;
            r->acked[i / 8] |= (unsigned char)(1u << (i % 8));
        } else {
            ck_assert_msg(rc == AX_ETIMEDOUT || rc == AX_ENORESPONDERS ||
                              rc == AX_ESHUTDOWN,
                          "send %u: %s", i, ax_err_name(rc));
            r->failed++;
        }
    }
    rc = AX_ETIMEDOUT;
    for (i = 0; i < 20 && rc; i++)
        rc = ax_node_call(n, "count", 5, NULL, 0, 2.0, &b);
    axt_assert_rc(rc, 0);
    ck_assert_uint_eq(b->len, sizeof r->seen);
    memcpy(r->seen, b->data, sizeof r->seen);
    ax_node_bytes_free(b);
    axt_assert_rc(ax_node_call(n, "count", 3, NULL, 0, 5, NULL), 0);
    axt_assert_rc(ax_node_close(n), 0);
    return NULL;
}

START_TEST(cluster_failover)
{
    int port[3], cport[3], i, late = 0;
    char routes[256], purls[200];
    static cl_res r;

    if (!AX_NATS_SERVER[0]) {
        AXT_SKIP("nats-server not installed");
        return;
    }
    for (i = 0; i < 3; i++) {
        port[i] = axt_free_port(SOCK_STREAM);
        cport[i] = axt_free_port(SOCK_STREAM);
        url_of(cl_url[i], sizeof cl_url[i], port[i]);
    }
    snprintf(routes, sizeof routes,
             "nats://127.0.0.1:%d,nats://127.0.0.1:%d,nats://127.0.0.1:%d",
             cport[0], cport[1], cport[2]);
    for (i = 0; i < 3; i++) {
        cl[i] = axn_server(port[i], cport[i], routes, NULL);
        ck_assert_msg(cl[i].pid > 0, "cluster server %d did not start", i);
    }
    snprintf(purls, sizeof purls, "%s,%s", cl_url[1], cl_url[2]);
    peer = start_peer(purls, "count", NULL);
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(ax_test_run_real(cluster_main, &r, NULL), 0);
    AXT_ASSERT_CLEAN();
    fprintf(stderr, "cluster_failover: %d acknowledged, %d reported failed, "
            "%d events, %d reconnects\n", r.ok, r.failed, r.events,
            r.reconnects);
    /* every message accounted for: acknowledged or reported failed */
    ck_assert_int_eq(r.ok + r.failed, CL_N);
    /* traffic carried on after the kill through the other servers */
    ck_assert_int_ge(r.reconnects, 1);
    for (i = CL_N / 3 + 50; i < CL_N; i++)
        if (r.acked[i / 8] & (1u << (i % 8)))
            late++;
    ck_assert_int_gt(late, 0);
    /* nothing acknowledged that the peer did not receive */
    for (i = 0; i < CL_N; i++)
        if (r.acked[i / 8] & (1u << (i % 8)))
            ck_assert_msg(r.seen[i / 8] & (1u << (i % 8)),
                          "message %d acknowledged but not received", i);
    ck_assert_int_eq(axn_wait(&peer, 20), 0);
    for (i = 0; i < 3; i++)
        axn_kill(&cl[i]);
    stop_all();
}
END_TEST

Suite *ax_node_suite(void)
{
    Suite *s = suite_create("node");
    TCase *tc = tcase_create("node");

    tcase_set_timeout(tc, AXT_TIMEOUT * 2);
    tcase_add_test(tc, records);
    tcase_add_test(tc, server_down_at_connect);
    tcase_add_test(tc, two_processes);
    tcase_add_test(tc, queue_group);
    tcase_add_test(tc, unknown_name);
    tcase_add_test(tc, payload_over_max);
    tcase_add_test(tc, garbage_on_subject);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, monitor_remote_end);
    tcase_add_test(tc, monitor_remote_node_lost);
    tcase_add_test(tc, cluster_failover);
    tcase_add_test(tc, supervise_remote_pool);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ax_test_main(ax_node_suite());
}
