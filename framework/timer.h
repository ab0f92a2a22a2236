/* SPDX-License-Identifier: MIT */
/*
 * Timers and the loop's clock (time.c): a binary heap of deadlines per
 * loop, monotonic or virtual time. Never installed.
 */
#ifndef AX_TIMER_H
#define AX_TIMER_H

#include "platform.h"
#include "axon/common.h"
#include "axon/time.h"
#include "ext.h"

/*
 * One timer: lives in the heap while armed; idx is its slot there.
 *
 * A task's own timer (fire == NULL) is taken out of the heap lazily on the
 * real clock: a wait that ends before its deadline (a read that got its
 * bytes) leaves it in place marked dead (due == AX__TIMER_DEAD), and the
 * task's next wait with a deadline no earlier than the old one only
 * records it (due > deadline); the entry moves when it reaches the top.
 * Deleting from the middle of the heap was ~160 instructions per request
 * of http-hello (every request a read with the idle timeout), the same
 * again for the next wait's insert; as Go's timers do with
 * timerModifiedLater. Dead entries are counted (ax__timers.ndead) so that
 * the loop tells live timers from them; a task's timer is taken out for
 * good when the task ends (ax__timer_del_now()).
 */
typedef struct ax__timer {
    int64_t deadline; /* the heap's key */
    int64_t due;      /* when it fires: deadline, later, or AX__TIMER_DEAD */
    uint64_t seq; /* tie-break: equal deadlines fire in arming order */
    ax_task *task;
    /* NULL: wake @task with @status. Else called instead, on the loop
     * between tasks (scope.c's deadlines and callbacks). */
    void (*fire)(ax_loop *L, struct ax__timer *tm);
    uint32_t idx; /* AX__TIMER_IDLE when not in the heap */
    int status;   /* what the woken task's suspension returns */
} ax__timer;
#define AX__TIMER_IDLE UINT32_MAX
#define AX__TIMER_DEAD INT64_MIN

/* Armed: in the heap and not dead. */
static inline bool ax__timer_armed(const ax__timer *tm)
{
    return tm->idx != AX__TIMER_IDLE && tm->due != AX__TIMER_DEAD;
}


/* A loop's timers and clock, owned by time.c (loop.c arms the event). */
typedef struct ax__timers {
    ax__timer **heap;
    size_t n, cap;
    size_t ndead; /* entries of n that are dead (see ax__timer) */
    uint64_t seq;
    struct event *ev; /* the libevent timer armed for the earliest deadline */
    bool armed;
    bool virtual_clock;
    int64_t vnow;     /* virtual time, ns */
    int64_t start_ns; /* monotonic time at loop start */
} ax__timers;

/* time.c */
int64_t ax__mono_ns(void);
int64_t ax__now(ax_loop *L);
void ax__timer_add(ax_loop *L, ax__timer *tm, int64_t deadline);
/* Disarm; a task's own timer on the real clock lazily (see ax__timer). */
void ax__timer_del(ax_loop *L, ax__timer *tm);
/* Out of the heap now, dead or armed (a task's timer when it ends). */
void ax__timer_del_now(ax_loop *L, ax__timer *tm);
/* Live timers: armed and not dead. */
static inline size_t ax__timers_live(const ax__timers *T)
{
    return T->n - T->ndead;
}

/* Make room for one more timer, so that ax__timer_add() cannot fail (it
 * fires the timer at once when it cannot grow): AX_ENOMEM. */
int ax__timer_reserve(ax_loop *L);
size_t ax__timers_fire(ax_loop *L, int64_t now);
int ax__seconds_to_ns(double s, int64_t *ns);
/* ax__timeout_to_dl(), ax__dl_invalid(), ax__dl_passed(): in ext.h. */

#endif
