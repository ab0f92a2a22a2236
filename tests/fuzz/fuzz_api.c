/* SPDX-License-Identifier: MIT */
/*
 * API-sequence fuzzer: the input bytes are a program of operations on a
 * small runtime (one or two loops, virtual clock): spawn, await, cancel,
 * sleep, yield, futures, a queue, actors (send, ask, call, kill), a
 * supervisor whose children crash, wait_any and timeout scopes. The first
 * byte may also ask for the n-th allocation of the program to fail (see
 * fz_run()).
 *
 * Invariants, checked after every input (abort() on a breach, which
 * libFuzzer reports as a crash and keeps the input):
 *  - no crash, no sanitizer report, no hang (the virtual clock and the
 *    bounded task bodies make every input finish);
 *  - every call answers 0 or a documented code (never a crash on misuse:
 *    stale actor refs, double cancels, empty slots are part of the game);
 *  - clean teardown: ax_run() returns 0, its report is empty, every block
 *    taken through the allocator hook is given back;
 *  - message conservation: accepted = delivered + undelivered.
 *
 * Built three ways: with -fsanitize=fuzzer (configure --enable-fuzz,
 * tests/fuzz/fuzz_api), and included by tests/check_fuzz_api.c, which
 * replays the kept inputs (tests/fuzz/api-regress/) and a fixed set of
 * pseudo-random programs in every `make check`.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <axon.h>

#define NT 8 /* task slots */
#define NF 4 /* future slots */
#define NA 4 /* actor slots */

#define FZ_CHECK(c)                                                           \
    do {                                                                      \
        if (!(c)) {                                                           \
            fprintf(stderr, "fuzz_api: invariant broken at %s:%d: %s\n",      \
                    __FILE__, __LINE__, #c);                                  \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* The answer is 0 or one of the codes a caller of the fuzzer's calls can
 * legitimately get; anything else (a crash aside) is a bug. */
static bool fz_ok(int rc)
{
    switch (rc) {
    case 0:
    case AX_ETIMEDOUT:
    case AX_ECANCELED:
    case AX_EPIPE:
    case AX_ESRCH:
    case AX_EBUSY:
    case AX_ENOMEM:
    case AX_EAGAIN:
    case AX_ESHUTDOWN:
    case AX_EINVAL:
    case AX_ERESTARTS:
    case AX_EALREADY:
        return true;
    default:
        return false;
    }
}

#define FZ_RC(expr)                                                           \
    do {                                                                      \
        int fz_rc_ = (expr);                                                  \
        if (!fz_ok(fz_rc_)) {                                                 \
            fprintf(stderr, "fuzz_api: %s returned %d (%s)\n", #expr, fz_rc_, \
                    ax_err_name(fz_rc_));                                     \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* ---- the allocator hook: counts live blocks, can fail one ------------- */

static atomic_long fz_live, fz_req, fz_fail_at;

static void *fz_alloc(void *ud, size_t n)
{
    void *p;

    (void)ud;
    if (atomic_fetch_add(&fz_req, 1) + 1 == atomic_load(&fz_fail_at))
        return NULL;
    if ((p = malloc(n)))
        atomic_fetch_add(&fz_live, 1);
    return p;
}

static void *fz_resize(void *ud, void *p, size_t n)
{
    (void)ud;
    if (atomic_fetch_add(&fz_req, 1) + 1 == atomic_load(&fz_fail_at))
        return NULL;
    return realloc(p, n);
}

static void fz_release(void *ud, void *p)
{
    (void)ud;
    atomic_fetch_sub(&fz_live, 1);
    free(p);
}

/* ---- task bodies --------------------------------------------------------- */

enum { B_RET, B_SLEEP, B_YIELD, B_FAIL, B_QGET, B_CHILD, B_NBODIES };

typedef struct fz fz;

typedef struct body_arg {
    fz *z;
    int kind, param;
} body_arg;

struct fz {
    const uint8_t *p;
    size_t n;
    ax_task *t[NT];
    body_arg targ[NT];
    ax_future *f[NF];
    ax_future *ask[NF];
    ax_actor_ref a[NA];
    ax_queue *q;
    ax_actor_ref sup;
    bool have_sup;
    long queued; /* items in q: handed to the release callback at free */
};

static unsigned fz_byte(fz *z)
{
    if (!z->n)
        return 0;
    z->n--;
    return *z->p++;
}

static void *body(void *arg);

static void *body_child(void *arg)
{
    (void)arg;
    ax_yield();
    return (void *)(intptr_t)7;
}

static void *body(void *arg)
{
    body_arg *b = arg;
    void *item = NULL;
    ax_task *c;
    int rc = 0;

    switch (b->kind) {
    case B_RET:
        return (void *)(intptr_t)b->param;
    case B_SLEEP:
        rc = ax_sleep(b->param / 1000.0);
        break;
    case B_YIELD:
        for (int i = 0; i < b->param % 8 && !rc; i++)
            rc = ax_yield();
        break;
    case B_FAIL:
        ax_sleep(b->param / 10000.0);
        return ax_task_fail(AX_EPIPE);
    case B_QGET:
        rc = ax_queue_get_timeout(b->z->q, &item, b->param / 1000.0);
        if (!rc)
            b->z->queued--;
        break;
    case B_CHILD:
        if (!(rc = ax_spawn(&c, body_child, NULL)))
            rc = ax_await(c, NULL);
        break;
    }
    FZ_RC(rc);
    return rc ? ax_task_fail(rc) : NULL;
}

/* ---- actors -------------------------------------------------------------- */

enum { T_CAST = 1, T_ECHO, T_STOP, T_CRASH };

static void *actor_body(void *arg)
{
    ax_msg m;

    (void)arg;
    for (;;) {
        int rc = ax_recv(&m, -1);
        if (rc)
            return ax_task_fail(rc);
        if (m.reply_)
            ax_reply(&m, m.tag == T_ECHO ? m.data : NULL);
        if (m.tag == T_STOP)
            return NULL;
        if (m.tag == T_CRASH)
            return ax_task_fail(AX_EPIPE);
    }
}

static void q_release(void *item, void *arg)
{
    (void)item;
    ((fz *)arg)->queued--;
}

/* ---- the interpreter ----------------------------------------------------- */

static void op(fz *z, unsigned code)
{
    unsigned i = fz_byte(z), x = fz_byte(z);
    unsigned ti = i % NT, fi = i % NF, ai = i % NA;
    size_t idx;
    void *v;

    switch (code % 24) {
    case 0: /* spawn */
    case 1:
        if (z->t[ti])
            break;
        z->targ[ti] = (body_arg){z, (int)(x % B_NBODIES), (int)fz_byte(z)};
        FZ_RC(ax_spawn(&z->t[ti], body, &z->targ[ti]));
        break;
    case 2: /* await */
        if (z->t[ti]) {
            FZ_RC(ax_await(z->t[ti], NULL));
            z->t[ti] = NULL;
        }
        break;
    case 3: /* cancel (twice is fine) */
        if (z->t[ti])
            FZ_RC(ax_cancel(z->t[ti]));
        break;
    case 4:
        FZ_RC(ax_sleep(x / 1000.0));
        break;
    case 5:
        FZ_RC(ax_yield());
        break;
    case 6: /* future: new, or set */
        if (!z->f[fi])
            FZ_RC(ax_future_new(&z->f[fi]));
        else if (!ax_future_done(z->f[fi]))
            FZ_RC(ax_future_set_result(z->f[fi], (void *)(intptr_t)x));
        break;
    case 7: /* future: await briefly (a plain future is left as it is) */
        if (z->f[fi])
            FZ_RC(ax_await_timeout_future(z->f[fi], x / 1000.0, &v));
        break;
    case 8: /* future: free */
        if (z->f[fi]) {
            FZ_RC(ax_future_free(z->f[fi]));
            z->f[fi] = NULL;
        }
        break;
    case 9: /* queue put */
        if (!ax_queue_try_put(z->q, (void *)(intptr_t)(x + 1)))
            z->queued++;
        break;
    case 10: { /* queue get */
        int rc = ax_queue_try_get(z->q, &v);
        FZ_RC(rc);
        if (!rc)
            z->queued--;
        break;
    }
    case 11: { /* actor spawn, maybe on the other loop */
        ax_actor_opts ao = {.capacity = 1 + x % 8,
                            .loop = ax_loop_at((int)(x % 2) % ax_loop_count())};
        if (!z->a[ai].id)
            FZ_RC(ax_actor_spawn(&z->a[ai], actor_body, NULL, &ao));
        break;
    }
    case 12:
        if (z->a[ai].id)
            FZ_RC(ax_try_send(z->a[ai], T_CAST, NULL));
        break;
    case 13: /* ask */
        if (z->a[ai].id && !z->ask[fi])
            FZ_RC(ax_ask_dl(z->a[ai], T_ECHO, (void *)(intptr_t)x,
                            ax_deadline_in(0.01), &z->ask[fi]));
        break;
    case 14: /* an ask's answer */
        if (z->ask[fi]) {
            FZ_RC(ax_await_timeout_future(z->ask[fi], x / 1000.0, &v));
            FZ_RC(ax_future_free(z->ask[fi]));
            z->ask[fi] = NULL;
        }
        break;
    case 15:
        if (z->a[ai].id)
            FZ_RC(ax_call(z->a[ai], T_ECHO, NULL, x / 1000.0, &v));
        break;
    case 16: /* kill; the stale ref stays for more misuse */
        if (z->a[ai].id)
            FZ_RC(ax_actor_kill(z->a[ai], AX_ECANCELED));
        break;
    case 17: /* crash it */
        if (z->a[ai].id)
            FZ_RC(ax_try_send(z->a[ai], T_CRASH, NULL));
        break;
    case 18: { /* a supervisor of two crashing children */
        static const ax_sup_spec kids[2] = {
            {.name = "k0", .body = actor_body},
            {.name = "k1", .body = actor_body,
             .restart = AX_SUP_TRANSIENT}};
        ax_sup_opts so = {.strategy = (ax_sup_strategy)(x % 3),
                          .intensity = 1 + (int)(x % 5)};
        if (!z->have_sup) {
            int rc = ax_sup_start(&z->sup, &so, kids, 2);
            FZ_RC(rc);
            z->have_sup = rc == 0;
        }
        break;
    }
    case 19: { /* crash one of its children */
        ax_actor_ref k[2];
        size_t n = 0;
        if (z->have_sup &&
            ax_sup_which_children(z->sup, k, 2, &n) == 0 && n > 0)
            FZ_RC(ax_try_send(k[x % n], T_CRASH, NULL));
        break;
    }
    case 20:
        if (z->have_sup) {
            FZ_RC(ax_sup_stop(z->sup, 1.0));
            z->have_sup = false;
        }
        break;
    case 21: { /* wait_any over the live tasks */
        ax_future *fs[NT];
        size_t n = 0;
        for (int k = 0; k < NT; k++)
            if (z->t[k])
                fs[n++] = ax_task_future(z->t[k]);
        if (n)
            FZ_RC(ax_wait_any(fs, n, x / 1000.0, &idx));
        break;
    }
    case 22: { /* a timeout scope around a sleep */
        ax_scope sc;
        int rc = ax_scope_enter(&sc, (x % 16) / 1000.0);
        FZ_RC(rc);
        if (!rc) {
            rc = ax_sleep(fz_byte(z) / 4000.0);
            FZ_RC(ax_scope_exit(&sc, rc));
        }
        break;
    }
    case 23: /* misuse: awaiting an empty or finished future slot */
        FZ_CHECK(ax_await_future(NULL, NULL) == AX_EINVAL);
        break;
    }
}

static void *fz_main(void *arg)
{
    fz *z = arg;
    ax_queue_opts qo = {.capacity = 4, .release = q_release,
                        .release_arg = z};
    ax_actor_stats st;

    if (ax_queue_new(&z->q, &qo) != 0) {
        FZ_CHECK(atomic_load(&fz_fail_at) != 0);
        return NULL;
    }
    while (z->n)
        op(z, fz_byte(z));
    /* Teardown, in an order a careful program would use. */
    if (z->have_sup)
        FZ_RC(ax_sup_stop(z->sup, 5.0));
    for (int k = 0; k < NA; k++)
        if (z->a[k].id)
            FZ_RC(ax_actor_kill(z->a[k], AX_ECANCELED));
    for (int k = 0; k < NF; k++)
        if (z->ask[k]) {
            FZ_RC(ax_await_timeout_future(z->ask[k], 1.0, NULL));
            FZ_RC(ax_future_free(z->ask[k]));
        }
    for (int k = 0; k < NT; k++)
        if (z->t[k])
            FZ_RC(ax_await(z->t[k], NULL));
    for (int k = 0; k < NF; k++)
        if (z->f[k])
            FZ_RC(ax_future_free(z->f[k]));
    FZ_CHECK(ax_queue_free(z->q) == 0);
    FZ_CHECK(z->queued == 0);
    /* Let killed actors end and undelivered messages be counted. */
    for (int k = 0; k < 20; k++)
        ax_sleep(0.001);
    FZ_CHECK(ax_actor_stats_get(&st) == 0);
    if (atomic_load(&fz_fail_at) == 0)
        FZ_CHECK(st.msgs_accepted ==
                 st.msgs_delivered + st.msgs_undelivered);
    return NULL;
}

/* Run one program; abort() on a broken invariant. */
static int fz_run(const uint8_t *data, size_t size)
{
    static const ax_allocator al = {.alloc = fz_alloc, .resize = fz_resize,
                                    .release = fz_release};
    static bool installed;
    static FILE *rep;
    fz z;
    ax_opts o;
    int rc;

    if (!installed) {
        FZ_CHECK(ax_set_allocator(&al) == 0);
        FZ_CHECK((rep = tmpfile()) != NULL);
        installed = true;
    }
    if (size < 2)
        return 0;
    memset(&z, 0, sizeof z);
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.loops = 1 + (data[0] & 1);
    /* Bit 1: fail one allocation, the (data[1] + 1)-th of the run, on
     * either loop (with two, which request lands where depends on the
     * threads' timing). An actor whose task got no stack on the far loop
     * used to stay alive without a task: its block leaked and its askers
     * hung (programs 25 and 353 of check_fuzz_api). */
    atomic_store(&fz_req, 0);
    atomic_store(&fz_fail_at, (data[0] & 2) ? (long)data[1] + 1 : 0);
    z.p = data + 2;
    z.n = size - 2;
    rewind(rep);
    if (ftruncate(fileno(rep), 0) != 0)
        abort();
    o.report = rep;
    rc = ax_run_with(&o, fz_main, &z, NULL);
    fflush(rep);
    if (atomic_load(&fz_fail_at) == 0 ||
        atomic_load(&fz_req) < atomic_load(&fz_fail_at)) {
        FZ_CHECK(rc == 0);
        if (ftell(rep) != 0) {
            char buf[2048];
            size_t n;
            rewind(rep);
            n = fread(buf, 1, sizeof buf - 1, rep);
            buf[n] = '\0';
            fprintf(stderr, "fuzz_api: report not empty:\n%s\n", buf);
            abort();
        }
    } else {
        /* A failed allocation may stop the program anywhere (the main task
         * itself may not start): the run answers 0 or AX_ENOMEM, and still
         * gives every block back. */
        FZ_CHECK(rc == 0 || rc == AX_ENOMEM);
    }
    atomic_store(&fz_fail_at, 0);
    FZ_CHECK(atomic_load(&fz_live) == 0);
    return 0;
}

#ifdef AX_FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_run(data, size);
}
#endif
