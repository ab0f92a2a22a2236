/* SPDX-License-Identifier: MIT */
/* check_cxx.cpp: the public headers from C++17 (-Wall -Wextra -Werror
 * -pedantic): spawn, await, cancel, gather, a future, deadlines, and an
 * actor's send/recv/ask, all through <axon.h> and the C++ overloads of
 * ax_await, ax_cancel, ax_await_timeout, ax_await_dl and AX_FUTURE.
 *
 * Plain hard checks rather than Check, whose macros are not -pedantic C++;
 * every check runs whatever NDEBUG says. */
#include <axon.h>

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

#if AXON_HAVE_ACTORS
enum { T_ADD = 1, T_GET, T_STOP };

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
#endif
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
