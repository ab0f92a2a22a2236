/*
 * Private declarations shared by the framework's .c files. Never installed.
 *
 * The picture: one ax_loop per thread (reached through a thread-local), a
 * FIFO run queue of ready tasks, a binary heap of timers, a pool of stacks.
 * A task that suspends hands the CPU straight to the next ready task; the
 * loop's own context (the "scheduler", running on the thread's stack) only
 * gets control back when the queue is empty or a round's budget is spent,
 * and then checks timers and polls libevent.
 */
#ifndef AX_INTERNAL_H
#define AX_INTERNAL_H

#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "axon.h"
#include "ctx/ctx.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AX_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define AX_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(AX_ASAN)
#define AX_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(AX_TSAN)
#define AX_TSAN 1
#endif

#define AX__TLS __thread __attribute__((tls_model("initial-exec")))
#define AX__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A registration on a future's waiter list. Lives wherever its owner wants
 * (an awaiting task's stack, a gather's array, a malloc'd callback node). */
typedef struct ax__waiter ax__waiter;
struct ax__waiter {
    ax__waiter *next, *prev;
    void (*fire)(ax__waiter *w, ax_future *f);
    ax_task *task;  /* for the waiters that wake a task; else NULL */
    bool linked;
};

enum { AX__FUT_PLAIN, AX__FUT_TASK, AX__FUT_GATHER };

struct ax_future {
    ax_loop *loop;
    ax__waiter *head, *tail;
    void *value;
    int status;
    unsigned nawait; /* tasks awaiting, woken or not yet resumed */
    uint8_t kind;
    bool done;
    bool retrieved;  /* somebody read the outcome */
    bool mark;       /* scratch bit for duplicate checks in gather */
    bool completing; /* waking its waiters right now */
    bool free_deferred;
    ax_future *lprev, *lnext; /* the loop's list of plain/gather futures */
};

/* One timer: lives in the heap while armed; idx is its slot there. */
typedef struct ax__timer {
    int64_t deadline;
    uint64_t seq; /* tie-break: equal deadlines fire in arming order */
    size_t idx;   /* AX__TIMER_IDLE when not armed */
    ax_task *task;
    int status;   /* what the woken task's suspension returns */
} ax__timer;
#define AX__TIMER_IDLE SIZE_MAX

/* What a switch needs to know about each side: the context, and for the
 * sanitizers the stack bounds and their per-fiber state. */
typedef struct ax__coro {
    ax__ctx ctx;
    void *stack_lo;
    size_t stack_size;
    void *asan_fake;
    void *tsan_fiber;
} ax__coro;

typedef struct ax__stack {
    void *map;      /* mmap base: guard page first, then the stack */
    size_t maplen;
    unsigned vg_id; /* valgrind's stack id */
    bool guarded;
} ax__stack;

enum { AX__T_READY, AX__T_RUNNING, AX__T_SUSPENDED, AX__T_DONE };

struct ax_task {
    ax_future fut; /* first: a task is a future */
    ax__coro coro;
    ax__stack stack;
    ax_loop *loop;
    ax_task_fn fn;
    void *arg;
    ax_task *rnext;          /* run queue */
    ax_task *lprev, *lnext;  /* loop's task list */
    ax__timer timer;
    const char *wait_what;   /* for ax_dump_tasks */
    const void *wait_obj;
    uint64_t id;
    int fail_code;
    int wake_status;
    uint8_t state;
    bool cancel_req;     /* ax_cancel was called: the outcome is ECANCELED */
    bool cancel_pending; /* not yet delivered at a suspension */
    bool shielded;       /* suspensions ignore cancellation */
    bool has_handle;     /* someone may still use the handle */
    bool owned;          /* the handle belongs to a gather or group */
    bool has_awaiter;    /* a task is joining it */
    bool reported;
    char name[AX_TASK_NAME_MAX + 1];
};

struct ax_group {
    ax_loop *loop;
    ax_task *owner;
    ax_task **tasks;
    ax__waiter *waiters;
    size_t n, cap, remaining;
    int first_err;
    bool waiting, waited;
    ax_group *lprev, *lnext;
};

struct ax_loop {
    struct event_base *base;
    struct event *tmr_ev;
    bool tmr_armed;
    ax__coro sched;
    ax_task *current;
    ax_task *rq_head, *rq_tail;
    unsigned budget;   /* task runs left in this round */
    ax_task *zombie;   /* finished task whose stack is still to release */
    ax_task *main;

    ax_task *tasks;    /* every task struct not yet freed */
    size_t nunfinished; /* tasks not yet DONE */
    ax_future *futures;
    ax_group *groups;

    ax__timer **heap;
    size_t nheap, capheap;
    uint64_t timer_seq;

    bool virtual_clock;
    int64_t vnow;
    int64_t start_ns;

    size_t default_stack;
    size_t page;
    ax__stack *pool;
    size_t npool, cappool;

    FILE *report;
    bool tearing_down;
    bool deadlocked;
    bool warned_maps;
    ax_loop_stats st;

    void *altstack;
};

extern AX__TLS ax_loop *ax__tls_loop;

static inline ax_task *ax__current(void)
{
    ax_loop *L = ax__tls_loop;
    return L ? L->current : NULL;
}

/* error.c */
void ax__report(ax_loop *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* task.c */
int ax__suspend(ax_task *t, const char *what, const void *obj);
void ax__wake(ax_task *t, int status);
void ax__task_release(ax_task *t);
void ax__run_ready(ax_loop *L);
void ax__reap(ax_loop *L);
void ax__task_free(ax_task *t);
int ax__task_status(const ax_task *t);
void ax__coro_init_sched(ax_loop *L);
void ax__coro_term_sched(ax_loop *L);
int ax__wait_shielded(ax_task *t, ax_future *f);
int ax__task_cancel(ax_task *t);

/* future.c */
void ax__future_init(ax_future *f, ax_loop *L, uint8_t kind);
void ax__future_complete(ax_future *f, int status, void *value);
void ax__waiter_add(ax_future *f, ax__waiter *w);
void ax__waiter_remove(ax_future *f, ax__waiter *w);
void ax__waiter_wake_task(ax__waiter *w, ax_future *f);
void ax__future_track(ax_loop *L, ax_future *f);
void ax__future_untrack(ax_loop *L, ax_future *f);
int ax__await(ax_task *t, ax_future *f, int64_t timeout_ns, void **result);

/* gather.c */
int ax__gather_cancel(ax_future *f);
void ax__gather_free(ax_future *f);
void ax__group_teardown(ax_group *g);

/* time.c */
int64_t ax__mono_ns(void);
int64_t ax__now(ax_loop *L);
void ax__timer_add(ax_loop *L, ax__timer *tm, int64_t deadline);
void ax__timer_del(ax_loop *L, ax__timer *tm);
size_t ax__timers_fire(ax_loop *L, int64_t now);
int ax__seconds_to_ns(double s, int64_t *ns);

/* stack.c */
int ax__stack_get(ax_loop *L, size_t size, ax__stack *out);
void ax__stack_put(ax_loop *L, ax__stack *s, size_t size);
void ax__stack_pool_term(ax_loop *L);
int ax__altstack_init(ax_loop *L);
void ax__altstack_term(ax_loop *L);
size_t ax__stack_round(ax_loop *L, size_t size);

#endif
