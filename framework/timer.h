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

/* One timer: lives in the heap while armed; idx is its slot there. */
typedef struct ax__timer {
    int64_t deadline;
    uint64_t seq; /* tie-break: equal deadlines fire in arming order */
    size_t idx;   /* AX__TIMER_IDLE when not armed */
    ax_task *task;
    int status;   /* what the woken task's suspension returns */
    /* NULL: wake @task with @status. Else called instead, on the loop
     * between tasks (scope.c's deadlines and callbacks). */
    void (*fire)(ax_loop *L, struct ax__timer *tm);
} ax__timer;
#define AX__TIMER_IDLE SIZE_MAX


/* A loop's timers and clock, owned by time.c (loop.c arms the event). */
typedef struct ax__timers {
    ax__timer **heap;
    size_t n, cap;
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
void ax__timer_del(ax_loop *L, ax__timer *tm);
/* Make room for one more timer, so that ax__timer_add() cannot fail (it
 * fires the timer at once when it cannot grow): AX_ENOMEM. */
int ax__timer_reserve(ax_loop *L);
size_t ax__timers_fire(ax_loop *L, int64_t now);
int ax__seconds_to_ns(double s, int64_t *ns);
/* ax__timeout_to_dl(), ax__dl_invalid(), ax__dl_passed(): in ext.h. */

#endif
