/* SPDX-License-Identifier: MIT */
/* check_cxx.cpp: the public headers from C++17 (-Wall -Wextra -Werror
 * -pedantic): spawn, await, cancel, gather, a future, deadlines, and an
 * actor's send/recv/ask, all through <axon.h> and the C++ overloads of
 * ax_await, ax_cancel, ax_await_timeout, ax_await_dl and AX_FUTURE; then
 * at least one call from every other public header (loop, time, runtime,
 * sync, scope, queue, gather's groups and waits, net, signal, supervisor).
 * tests/suite.sh's install row builds it again against the installed
 * headers with pkg-config.
 *
 * Plain hard checks rather than Check, whose macros are not -pedantic C++;
 * every check runs whatever NDEBUG says. */
#include <axon.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,       \
                         __LINE__, #cond);                                    \
            std::abort();                                                     \
        }                                                                     \
    } while (0)

#define CHECK_RC(call, want)                                                  \
    do {                                                                      \
        int rc_ = (call);                                                     \
        if (rc_ != (want)) {                                                  \
            std::fprintf(stderr, "%s:%d: %s: got %s, want %s\n", __FILE__,    \
                         __LINE__, #call, ax_err_name(rc_),                   \
                         ax_err_name(want));                                  \
            std::abort();                                                     \
        }                                                                     \
    } while (0)

namespace {

void *as_ptr(std::intptr_t v) { return reinterpret_cast<void *>(v); }
std::intptr_t as_int(void *p) { return reinterpret_cast<std::intptr_t>(p); }

void *square(void *arg)
{
    std::intptr_t v = as_int(arg);
    CHECK_RC(ax_sleep(static_cast<double>(v) / 10), 0);
    return as_ptr(v * v);
}

int sleeper_rc = 1;
void *sleep_long(void *)
{
    sleeper_rc = ax_sleep(100);
    return nullptr;
}

void *complete_later(void *arg)
{
    CHECK_RC(ax_sleep(0.5), 0);
    CHECK_RC(ax_future_set_result(static_cast<ax_future *>(arg), as_ptr(9)),
             0);
    return nullptr;
}

/* net.h: echo what one connection sends, then close. */
void *echo_once(void *arg)
{
    ax_sock *l = static_cast<ax_sock *>(arg);
    ax_sock *c = nullptr;
    char buf[5];
    CHECK_RC(ax_accept(l, &c, 5), 0);
    CHECK_RC(ax_read_exact(c, buf, sizeof buf, 5), 0);
    CHECK_RC(ax_write_all(c, buf, sizeof buf, 5), 0);
    CHECK_RC(ax_close(c), 0);
    return nullptr;
}

int soon_ran = 0;
void on_soon(void *arg) { *static_cast<int *>(arg) += 1; }

/* One call or more from each header besides task/future/gather/actor. */
void toolkit()
{
    void *v = nullptr;

    /* loop.h, time.h, runtime.h */
    CHECK(ax_loop_current() != nullptr);
    CHECK(ax_loop_index(ax_loop_current()) == 0);
    CHECK(ax_loop_count() == 2);
    CHECK(ax_now() >= 0);
    CHECK(ax_deadline_in(1.0) > ax_now_ns());
    ax_runtime_stats rs{};
    CHECK_RC(ax_runtime_stats_get(&rs), 0);
    ax_loop_stats ls{};
    CHECK_RC(ax_loop_stats_get(&ls), 0);
    CHECK(ls.tasks_spawned > 0);
    CHECK(ax_build_info() != nullptr);

    /* sync.h */
    ax_lock *lk = nullptr;
    CHECK_RC(ax_lock_new(&lk), 0);
    CHECK_RC(ax_lock_acquire(lk, 1.0), 0);
    CHECK(ax_lock_locked(lk));
    CHECK_RC(ax_lock_release(lk), 0);
    CHECK_RC(ax_lock_free(lk), 0);
    ax_event *ev = nullptr;
    CHECK_RC(ax_event_new(&ev), 0);
    CHECK_RC(ax_event_set(ev), 0);
    CHECK_RC(ax_event_wait(ev, 1.0), 0);
    CHECK_RC(ax_event_free(ev), 0);
    ax_sem *sem = nullptr;
    CHECK_RC(ax_sem_new(&sem, 1), 0);
    CHECK_RC(ax_sem_acquire(sem, 1.0), 0);
    CHECK_RC(ax_sem_acquire(sem, 0.1), AX_ETIMEDOUT);
    CHECK_RC(ax_sem_release(sem), 0);
    CHECK_RC(ax_sem_free(sem), 0);

    /* scope.h: a timeout scope, a loop callback */
    ax_scope sc;
    CHECK_RC(ax_scope_enter(&sc, 0.1), 0);
    int rc = ax_sleep(10);
    CHECK_RC(ax_scope_exit(&sc, rc), AX_ETIMEDOUT);
    CHECK_RC(ax_call_soon(nullptr, on_soon, &soon_ran, nullptr), 0);
    CHECK_RC(ax_yield(), 0);
    CHECK_RC(ax_sleep(0.01), 0);
    CHECK(soon_ran == 1);

    /* queue.h */
    ax_queue *q = nullptr;
    ax_queue_opts qo{};
    qo.capacity = 2;
    CHECK_RC(ax_queue_new(&q, &qo), 0);
    CHECK_RC(ax_queue_put(q, as_ptr(7)), 0);
    CHECK_RC(ax_queue_get(q, &v), 0);
    CHECK(as_int(v) == 7);
    CHECK_RC(ax_queue_try_get(q, &v), AX_EAGAIN);
    CHECK_RC(ax_queue_free(q), 0);

    /* gather.h: a group, a wait for the first */
    ax_group *g = nullptr;
    CHECK_RC(ax_group_new(&g), 0);
    CHECK_RC(ax_group_spawn(g, nullptr, square, as_ptr(1)), 0);
    CHECK_RC(ax_group_wait(g), 0);
    CHECK_RC(ax_group_free(g), 0);
    ax_task *t1 = nullptr, *t2 = nullptr;
    CHECK_RC(ax_spawn(&t1, square, as_ptr(1)), 0);
    CHECK_RC(ax_spawn(&t2, square, as_ptr(5)), 0);
    ax_future *two[2] = {AX_FUTURE(t1), AX_FUTURE(t2)};
    size_t first = 9;
    CHECK_RC(ax_wait_any(two, 2, 5.0, &first), 0);
    CHECK(first == 0);
    CHECK_RC(ax_await(t1, nullptr), 0);
    CHECK_RC(ax_await(t2, nullptr), 0);

    /* signal.h: nothing comes, so the wait times out */
    CHECK_RC(ax_signal_wait(SIGUSR2, 0.05), AX_ETIMEDOUT);

    /* net.h: an echo over loopback TCP */
    ax_sock *l = nullptr, *c = nullptr;
    CHECK_RC(ax_tcp_listen(&l, "127.0.0.1", 0, nullptr), 0);
    CHECK(ax_sock_port(l) > 0);
    ax_task *srv = nullptr;
    CHECK_RC(ax_spawn(&srv, echo_once, l), 0);
    CHECK_RC(ax_connect(&c, "127.0.0.1", ax_sock_port(l), 5), 0);
    char buf[5];
    CHECK_RC(ax_write_all(c, "hello", 5, 5), 0);
    CHECK_RC(ax_read_exact(c, buf, sizeof buf, 5), 0);
    CHECK(std::memcmp(buf, "hello", 5) == 0);
    CHECK_RC(ax_close(c), 0);
    CHECK_RC(ax_await(srv, nullptr), 0);
    CHECK_RC(ax_close(l), 0);
}

#if AXON_HAVE_ACTORS
enum { T_ADD = 1, T_GET, T_STOP };

/* supervisor.h: a child that waits for messages until told to go. */
void *idle_child(void *)
{
    ax_msg m;
    while (ax_recv(&m, -1) == 0) {
    }
    return nullptr;
}

/* Sums T_ADD payloads; answers T_GET with the sum. */
void *summer(void *)
{
    std::intptr_t sum = 0;
    ax_msg m;
    for (;;) {
        CHECK_RC(ax_recv(&m, -1), 0);
        if (m.tag == T_ADD)
            sum += as_int(m.data);
        else if (m.tag == T_GET)
            CHECK_RC(ax_reply(&m, as_ptr(sum)), 0);
        else
            return nullptr;
    }
}
#endif

void *main_task(void *)
{
    void *v = nullptr;

    /* spawn and await a task (the ax_task * overload) */
    ax_task *t = nullptr;
    CHECK_RC(ax_spawn(&t, square, as_ptr(3)), 0);
    CHECK_RC(ax_await(t, &v), 0);
    CHECK(as_int(v) == 9);

    /* ax_spawn_with and options, value-initialised */
    ax_task_opts to{};
    to.name = "named";
    CHECK_RC(ax_spawn_with(&t, square, as_ptr(2), &to), 0);
    CHECK(std::strcmp(ax_task_name(t), "named") == 0);
    CHECK_RC(ax_await_dl(t, ax_deadline_in(1.0), &v), 0);
    CHECK(as_int(v) == 4);

    /* cancel a task, then await it */
    CHECK_RC(ax_spawn(&t, sleep_long, nullptr), 0);
    CHECK_RC(ax_yield(), 0);
    CHECK_RC(ax_cancel(t), 0);
    CHECK_RC(ax_await(t, nullptr), AX_ECANCELED);
    CHECK_RC(sleeper_rc, AX_ECANCELED);

    /* a timeout on a task cancels it */
    CHECK_RC(ax_spawn(&t, sleep_long, nullptr), 0);
    CHECK_RC(ax_await_timeout(t, 0.25, &v), AX_ETIMEDOUT);

    /* gather three tasks through AX_FUTURE */
    ax_future *futs[3];
    void *res[3];
    for (int i = 0; i < 3; i++) {
        ax_task *k = nullptr;
        CHECK_RC(ax_spawn(&k, square, as_ptr(3 - i)), 0);
        futs[i] = AX_FUTURE(k);
    }
    CHECK_RC(ax_gather(futs, 3, res), 0);
    CHECK(as_int(res[0]) == 9 && as_int(res[1]) == 4 && as_int(res[2]) == 1);

    /* a plain future: the ax_future * overloads */
    ax_future *f = nullptr;
    CHECK_RC(ax_future_new(&f), 0);
    CHECK(AX_FUTURE(f) == f);
    CHECK_RC(ax_await_timeout(f, 0.1, &v), AX_ETIMEDOUT);
    CHECK_RC(ax_spawn(nullptr, complete_later, f), 0);
    CHECK_RC(ax_await(f, &v), 0);
    CHECK(as_int(v) == 9);
    CHECK_RC(ax_await_dl(f, 0, &v), 0); /* past deadline, done: taken */
    CHECK_RC(ax_future_free(f), 0);
    CHECK_RC(ax_future_new(&f), 0);
    CHECK_RC(ax_cancel(f), 0);
    CHECK_RC(ax_future_result(f, nullptr), AX_ECANCELED);
    CHECK_RC(ax_await_dl(f, AX_NO_DEADLINE, &v), AX_ECANCELED);
    CHECK_RC(ax_future_free(f), 0);

#if AXON_HAVE_ACTORS
    /* an actor on another loop: send, ask, call */
    CHECK(ax_ref_eq(ax_actor_self(), AX_ACTOR_NONE));
    ax_actor_opts ao{};
    ao.loop = ax_loop_at(1);
    ax_actor_ref ref = AX_ACTOR_NONE;
    CHECK_RC(ax_actor_spawn(&ref, summer, nullptr, &ao), 0);
    CHECK(!ax_ref_eq(ref, AX_ACTOR_NONE));
    for (int i = 1; i <= 10; i++)
        CHECK_RC(ax_send(ref, T_ADD, as_ptr(i)), 0);
    ax_future *reply = nullptr;
    CHECK_RC(ax_ask(ref, T_GET, nullptr, &reply), 0);
    CHECK_RC(ax_await(reply, &v), 0);
    CHECK(as_int(v) == 55);
    CHECK_RC(ax_future_free(reply), 0);
    CHECK_RC(ax_send_dl(ref, T_ADD, as_ptr(45), ax_deadline_in(1)), 0);
    CHECK_RC(ax_call_dl(ref, T_GET, nullptr, ax_deadline_in(1), &v), 0);
    CHECK(as_int(v) == 100);
    CHECK_RC(ax_send(ref, T_STOP, nullptr), 0);
    while (ax_actor_alive(ref))
        CHECK_RC(ax_sleep(0.001), 0);

    /* a supervisor with one child */
    ax_sup_spec spec{};
    spec.name = "idle";
    spec.body = idle_child;
    ax_actor_ref sup = AX_ACTOR_NONE, kids[2];
    size_t nkids = 0;
    CHECK_RC(ax_sup_start(&sup, nullptr, &spec, 1), 0);
    CHECK_RC(ax_sup_which_children(sup, kids, 2, &nkids), 0);
    CHECK(nkids == 1 && ax_actor_alive(kids[0]));
    CHECK_RC(ax_sup_stop(sup, 5.0), 0);
#endif
    toolkit();
    return as_ptr(42);
}

} // namespace

int main()
{
    ax_opts o{};
    void *r = nullptr;
    o.loops = 2;
    o.virtual_clock = true;
    CHECK_RC(ax_run_with(&o, main_task, nullptr, &r), 0);
    CHECK(as_int(r) == 42);
    /* errors are usable from C++ too */
    CHECK(std::strcmp(ax_err_name(AX_ENESTED), "AX_ENESTED") == 0);
    std::puts("check_cxx: all checks passed");
    return 0;
}
