/* SPDX-License-Identifier: MIT */
/*
 * Time: one monotonic int64 nanosecond clock (or the virtual one), a binary
 * min-heap of timers per loop, ax_sleep().
 *
 * The heap orders by (deadline, seq); seq makes timers with equal deadlines
 * fire in the order they were armed, which the virtual clock relies on for
 * deterministic tests. Insert and remove are O(log n); a million sleeping
 * tasks cost one pointer each here.
 */
#include "loop_impl.h"
#include "task_impl.h"
#include "axon.h"
#include "axon/time.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#define NS_PER_S INT64_C(1000000000)
/* Longer than any real deadline, short enough that now + max never
 * overflows int64. */
#define MAX_DURATION_S (100.0 * 365 * 24 * 3600)

int64_t ax__mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t ax__now(ax_loop *L)
{
    return L->tm.virtual_clock ? L->tm.vnow : ax__mono_ns() - L->tm.start_ns;
}

int64_t ax_now_ns(void)
{
    ax_loop *L = ax__tls_loop;

    return L ? ax__now(L) : ax__mono_ns();
}

double ax_now(void)
{
    return (double)ax_now_ns() / 1e9;
}

int ax__seconds_to_ns(double s, int64_t *ns)
{
    if (isnan(s) || s < 0 || s > MAX_DURATION_S)
        return AX_EINVAL;
    *ns = (int64_t)(s * 1e9);
    return 0;
}

int ax__timeout_to_dl(ax_loop *L, double s, bool neg_is_none, int64_t *dl)
{
    int64_t ns;
    int rc;

    if (s < 0 && neg_is_none) {
        *dl = AX_NO_DEADLINE;
        return 0;
    }
    rc = ax__seconds_to_ns(s, &ns);
    if (rc)
        return rc;
    *dl = (L ? ax__now(L) : ax__mono_ns()) + ns;
    return 0;
}

int64_t ax_deadline_in(double seconds)
{
    int64_t dl;

    /* NaN must not turn into "no limit" on its way to the _dl call. */
    if (isnan(seconds))
        return INT64_MIN;
    if (ax__timeout_to_dl(ax__tls_loop, seconds, true, &dl))
        return AX_NO_DEADLINE; /* beyond 100 years */
    return dl;
}

static bool before(const ax__timer *a, const ax__timer *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(ax_loop *L, size_t i, ax__timer *tm)
{
    L->tm.heap[i] = tm;
    tm->idx = (uint32_t)i;
}

static void sift_up(ax_loop *L, size_t i)
{
    ax__timer *tm = L->tm.heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(tm, L->tm.heap[parent]))
            break;
        place(L, i, L->tm.heap[parent]);
        i = parent;
    }
    place(L, i, tm);
}

static void sift_down(ax_loop *L, size_t i)
{
    ax__timer *tm = L->tm.heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= L->tm.n)
            break;
        if (c + 1 < L->tm.n && before(L->tm.heap[c + 1], L->tm.heap[c]))
            c++;
        if (!before(L->tm.heap[c], tm))
            break;
        place(L, i, L->tm.heap[c]);
        i = c;
    }
    place(L, i, tm);
}

/* The only allocation on the sleep path, and amortised: the array doubles. */
int ax__timer_reserve(ax_loop *L)
{
    if (L->tm.n == L->tm.cap) {
        if (L->tm.n >= AX__TIMER_IDLE)
            return AX_ENOMEM;
        size_t cap = L->tm.cap ? L->tm.cap * 2 : 64;
        ax__timer **h = ax__realloc(L->tm.heap, cap * sizeof *h);
        if (!h)
            return AX_ENOMEM;
        L->tm.heap = h;
        L->tm.cap = cap;
    }
    return 0;
}

static void heap_remove(ax_loop *L, ax__timer *tm);

void ax__timer_add(ax_loop *L, ax__timer *tm, int64_t deadline)
{
    if (tm->idx != AX__TIMER_IDLE) {
        /* Still in the heap (dead, see ax__timer): reuse the entry. */
        if (tm->due == AX__TIMER_DEAD)
            L->tm.ndead--;
        tm->seq = L->tm.seq++;
        if (deadline >= tm->deadline) {
            /* Postponed: the entry moves when it reaches the top. Its key
             * grew by the new seq only: at most a step down. */
            tm->due = deadline;
            sift_down(L, tm->idx);
        } else {
            tm->deadline = tm->due = deadline;
            sift_up(L, tm->idx);
        }
        return;
    }
    tm->deadline = tm->due = deadline;
    tm->seq = L->tm.seq++;
    /* On failure to grow, a callback timer fires at once instead of never;
     * a task's wait ends with AX_ENOMEM instead of hanging or reporting a
     * timeout that did not happen. The task is usually still running (the
     * timer is armed just before it suspends): its suspension returns
     * then. */
    if (ax__timer_reserve(L)) {
        tm->idx = AX__TIMER_IDLE;
        if (tm->fire)
            tm->fire(L, tm);
        else if (tm->task->state == AX__T_SUSPENDED)
            ax__wake(tm->task, AX_ENOMEM);
        else
            tm->task->timer_failed = true;
        return;
    }
    place(L, L->tm.n++, tm);
    sift_up(L, tm->idx);
}

static void heap_remove(ax_loop *L, ax__timer *tm)
{
    size_t i = tm->idx;

    if (tm->due == AX__TIMER_DEAD)
        L->tm.ndead--;
    tm->idx = AX__TIMER_IDLE;
    if (i == --L->tm.n)
        return;
    ax__timer *moved = L->tm.heap[L->tm.n];
    place(L, i, moved);
    sift_up(L, i);
    sift_down(L, moved->idx);
}

void ax__timer_del(ax_loop *L, ax__timer *tm)
{
    if (tm->idx == AX__TIMER_IDLE || tm->due == AX__TIMER_DEAD)
        return;
    /* Only a task's own timer (its struct outlives the entry until
     * ax__timer_del_now()), and not on the virtual clock, whose advance
     * reads the top's deadline as the next event. */
    if (!tm->fire && !L->tm.virtual_clock) {
        tm->due = AX__TIMER_DEAD;
        L->tm.ndead++;
        return;
    }
    heap_remove(L, tm);
}

void ax__timer_del_now(ax_loop *L, ax__timer *tm)
{
    if (tm->idx != AX__TIMER_IDLE)
        heap_remove(L, tm);
}

/* The top is due by its key: dead, drop it; postponed, move it (it may
 * come back up in the same pass); else it fires. */
static bool top_settled(ax_loop *L)
{
    ax__timer *tm = L->tm.heap[0];

    if (tm->due == AX__TIMER_DEAD) {
        heap_remove(L, tm);
        return false;
    }
    if (tm->due > tm->deadline) {
        tm->deadline = tm->due;
        sift_down(L, 0);
        return false;
    }
    return true;
}

size_t ax__timers_fire(ax_loop *L, int64_t now)
{
    size_t n = 0;

    while (L->tm.n && L->tm.heap[0]->deadline <= now) {
        ax__timer *tm = L->tm.heap[0];
        if (!top_settled(L))
            continue;
        heap_remove(L, tm);
        if (tm->fire)
            tm->fire(L, tm);
        else
            ax__wake(tm->task, tm->status);
        n++;
    }
    return n;
}

int ax_sleep_dl(int64_t deadline)
{
    ax_task *t = ax__current();
    ax_loop *L;
    int rc;

    if (!t)
        return AX_ENOTTASK;
    if (ax__dl_invalid(deadline))
        return AX_EINVAL;
    L = t->loop;
    /* ax_sleep(0) comes here with deadline == now: it must still let the
     * other ready tasks run. */
    if (ax__dl_passed(L, deadline))
        return ax_yield();
    if (t->cancel_pending && !t->shielded) {
        t->cancel_pending = false;
        return AX_ECANCELED;
    }
    t->timer.status = 0;
    if (deadline != AX_NO_DEADLINE)
        ax__timer_add(L, &t->timer, deadline);
    rc = ax__suspend_shs(t, "sleeping", &t->timer);
    ax__timer_del(L, &t->timer);
    return rc;
}

int ax_sleep_ns(int64_t ns)
{
    ax_task *t = ax__current();

    if (!t)
        return AX_ENOTTASK;
    if (ns < 0 || ns > INT64_MAX / 2)
        return AX_EINVAL;
    return ax_sleep_dl(ax__now(t->loop) + ns);
}

int ax_sleep(double seconds)
{
    ax_task *t = ax__current();
    int64_t dl;
    int rc;

    if (!t)
        return AX_ENOTTASK;
    rc = ax__timeout_to_dl(t->loop, seconds, false, &dl);
    return rc ? rc : ax_sleep_dl(dl);
}
