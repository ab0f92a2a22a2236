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

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "axon.h"
#include "axon/runtime.h"
#include "ctx/ctx.h"
#include "ext.h"

#ifndef AX_USE_EVENTFD
#ifdef HAVE_SYS_EVENTFD_H
#define AX_USE_EVENTFD 1
#else
#define AX_USE_EVENTFD 0
#endif
#endif

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

/* A polite busy-wait step: lets the sibling hyperthread run and saves
 * power while a loop polls its inbox before going to sleep. */
#if defined(__x86_64__) || defined(__i386__)
#define AX__CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define AX__CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define AX__CPU_RELAX() ((void)0)
#endif
#define AX__UNLIKELY(x) __builtin_expect(!!(x), 0)

typedef struct ax__bell {
    int rfd, wfd;
} ax__bell;

/* Producer and consumer fields on separate cache lines: senders hammer
 * head, the owning loop walks tail. */
typedef struct ax__inbox {
    _Alignas(64) ax__msg *_Atomic head;
    _Alignas(64) ax__msg *tail;
    ax__msg stub;
    _Alignas(64) atomic_int sleeping;
    bool vclock; /* the loop's virtual_clock, on the line producers read */
    atomic_ullong rings;
    ax__bell bell;
} ax__inbox;

/* What the loops of one ax_run() share. */
typedef struct ax__rt {
    int nloops;
    ax_loop **loops;
    pthread_t *threads;
    atomic_long unfinished; /* tasks not yet ended, all loops */
    atomic_int shutting;    /* the main task has ended */
    atomic_ullong posts;
    /* Layers attached through ext.h: their descriptors and states. */
    _Atomic(ax__ext *) ext[AX__EXT_MAX];
    _Atomic(void *) ext_state[AX__EXT_MAX];
    pthread_mutex_t ext_lock;
    /* Virtual clock with several loops: messages pushed and not yet run,
     * and a count of idle-to-busy transitions (see virtual_quiet()). */
    _Alignas(64) atomic_long vinflight;
    atomic_ulong vepoch;
} ax__rt;

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

/* The home side of a cross-loop await (remote.c). */
typedef struct ax__proxy ax__proxy;
struct ax__proxy {
    ax__msg m;   /* home -> owner (register), owner -> home (result) */
    ax__msg op;  /* home -> owner (cancel/unregister), owner -> home (ack) */
    ax__waiter w;/* on the owner's future */
    ax_future *f;
    ax_loop *owner; /* f->loop, kept: f may be freed once the result left */
    ax_loop *home;
    ax_task *task;
    void (*home_cb)(ax__proxy *p);
    void *ctx;
    void *value;
    int status;
    bool join;   /* awaiting a task: consume its handle */
    bool back, rejected, unregistered;
    bool fired;  /* owner side only: the result was sent */
    bool op_sent, op_cancel, acked;
};

/*
 * Handles are pointers, so a stale one (freed, then used) cannot be told
 * apart from a live one by its value. Tasks, futures, gathers and groups
 * therefore come from per-loop pools (pool.c) that keep freed structs,
 * never handing them back to malloc while the runtime runs, and the first
 * word of each says whether it is live and what it is. A freed struct is
 * reused oldest first and only after AX__QUARANTINE later frees, so a
 * stale handle finds the dead word unless that many objects of its kind
 * were freed since. The word is read from other threads (a cross-loop
 * await checks it before posting), hence the relaxed atomics. It sits in
 * what was padding, not in front: eight more bytes at the head of every
 * task moved the fields a yield touches and cost 5% on bench/ctxswitch.
 */
#define AX__MAGIC_LIVE 0xA7011100u /* | kind: a live future of that kind */
#define AX__MAGIC_GROUP 0xA7062000u
#define AX__MAGIC_DEAD 0xA7DEAD00u

static inline uint32_t ax__magic(const uint32_t *m)
{
    return __atomic_load_n(m, __ATOMIC_RELAXED);
}

static inline void ax__set_magic(uint32_t *m, uint32_t v)
{
    __atomic_store_n(m, v, __ATOMIC_RELAXED);
}

/* A future, task or gather that has not been freed. */
#define AX__FUTURE_LIVE(f)                                                    \
    ((ax__magic(&((const ax_future *)(f))->magic) & ~0xffu) == AX__MAGIC_LIVE)
#define AX__TASK_LIVE(t)                                                      \
    (ax__magic(&((const ax_task *)(t))->fut.magic) ==                        \
     (AX__MAGIC_LIVE | AX__FUT_TASK))
#define AX__GROUP_LIVE(g)                                                     \
    (ax__magic(&((const ax_group *)(g))->magic) == AX__MAGIC_GROUP)

/* A pooled struct in quarantine: the link takes its second word. The
 * first is the owner loop, which a cross-loop call reads before it could
 * know the struct is dead; left alone, a racing stale call still posts to
 * a real loop, which then refuses it. The magic word is further in. */
typedef struct ax__pooled ax__pooled;
struct ax__pooled {
    void *loop;
    ax__pooled *next;
};

typedef struct ax__pool {
    ax__pooled *head, *tail; /* oldest freed first */
    size_t n;
    size_t size; /* of each struct, known from the first put */
} ax__pool;

struct ax_future {
    ax_loop *loop; /* first: see ax__pooled */
    ax__waiter *head, *tail;
    void *value;
    int status;
    unsigned nawait; /* tasks awaiting, woken or not yet resumed */
    uint8_t kind;
    bool done;
    bool retrieved;  /* somebody read the outcome */
    bool mark;       /* scratch bit for duplicate checks in gather */
    bool completing; /* waking its waiters right now */
    void (*on_free)(ax_future *f, void *arg); /* ax__future_on_free() */
    void *on_free_arg;
    bool free_deferred;
    bool freed;      /* ax_future_free() accepted it; destruction may wait */
    uint32_t magic;  /* see AX__MAGIC_LIVE */
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

typedef struct ax__slab ax__slab;

/*
 * The PROT_NONE region below each task stack. A frame that moves the stack
 * pointer further than this in one step, and then writes at its far end,
 * lands in whatever lies below: in a slab, another task's stack. Code
 * built with -fstack-clash-protection (the library, its tests and
 * examples, see configure) touches every page on the way down, so one
 * page would do for it; the rest is for code built without it, frames up
 * to this size. It costs address space only (no memory, and the same one
 * mprotect and one map as a single page). Not 64 KiB: with the default
 * 64 KiB stack the stride would be 128 KiB, a power of two, and every
 * stack's top would fall in the same cache sets (bench/ctxswitch: +6%).
 */
#define AX__GUARD_SIZE ((size_t)60 * 1024)

typedef struct ax__stack {
    void *map;      /* base: guard region first, then the stack */
    size_t maplen;
    ax__slab *slab; /* the mapping it was carved from; NULL: its own map */
    unsigned vg_id; /* valgrind's stack id */
    bool guarded;
} ax__stack;

enum { AX__T_READY, AX__T_RUNNING, AX__T_SUSPENDED, AX__T_DONE };

struct ax_task {
    ax_future fut; /* first: a task is a future */
    ax__msg spawn_msg; /* ax_spawn_on's message to the owning loop */
    void *owner;       /* the layer's object this task runs (ext.h) */
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
    ax_loop *loop; /* first, as in ax_future: see ax__pooled */
    ax_task *owner;
    ax_task **tasks;
    ax__waiter *waiters;
    size_t n, cap, remaining;
    int first_err;
    uint32_t magic; /* AX__MAGIC_GROUP while live */
    bool waiting, waited;
    ax_group *lprev, *lnext;
};

struct ax_loop {
    ax__inbox inbox; /* first: it wants its cache-line alignment */
    ax__rt *rt;
    int index;
    atomic_bool closed;       /* no longer takes posts */
    atomic_int posting;       /* ax_loop_post calls in progress */
    atomic_bool teardown_req; /* the runtime is shutting down */
    atomic_bool quit_req;     /* every task everywhere has ended */
    atomic_bool foreign_posts;/* a thread without a loop posted here */
    atomic_bool vidle;        /* virtual clock: nothing to run here */
    bool deadlock_check;
    void *ext[AX__EXT_MAX]; /* the attached layers' per-loop states */
    struct event *bell_ev;
    struct event *sig_ev[2];
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
    ax__slab *slab; /* default-size stacks are carved from this one */
    size_t guard;   /* bytes of PROT_NONE below each stack */

    FILE *report;
    bool tearing_down;
    bool deadlocked;
    bool warned_maps;
    ax_loop_stats st;

    void *altstack;

    /* Freed structs by kind, kept for handle checks (pool.c). */
    ax__pool pool_task, pool_future, pool_gather, pool_group;
};


static inline ax_task *ax__current(void)
{
    ax_loop *L = ax__tls_loop;
    return L ? L->current : NULL;
}

/* inbox.c, doorbell.c */
void ax__inbox_init(ax__inbox *q);
void ax__inbox_push(ax_loop *L, ax__msg *m);
size_t ax__inbox_drain(ax_loop *L, bool drop);
bool ax__inbox_busy(ax_loop *L);
bool ax__inbox_sleep(ax_loop *L);
void ax__inbox_awake(ax_loop *L);
void ax__inbox_close(ax_loop *L);
int ax__post_call(ax_loop *to,
                  void (*fn)(ax_loop *L, void *a, void *b, int c, bool drop),
                  void *a, void *b, int c);
int ax__bell_init(ax__bell *b);
void ax__bell_term(ax__bell *b);
void ax__bell_ring(ax__bell *b);
void ax__bell_drain(ax__bell *b);
const char *ax__bell_name(void);

/* loop.c, runtime.c */
int ax__loop_init(ax_loop *L, ax__rt *rt, int index, const ax_opts *opts);
int ax__loop_enter(ax_loop *L);
void ax__loop_leave(ax_loop *L);
void ax__loop_term(ax_loop *L);
void ax__drive(ax_loop *L);
void ax__final_reports(ax_loop *L);
void ax__cancel_all(ax_loop *L);
void ax__loop_teardown(ax_loop *L);
void ax__runtime_main_done(ax_loop *L);
void ax__runtime_task_ended(ax_loop *L);

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
const char *ax__task_name(ax_task *t);
int ax__spawn_on(ax_loop *loop, ax_task **tp, bool handle, ax_task_fn fn,
                 void *arg, const ax_task_opts *opts);
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

/* remote.c */
void ax__proxy_start(ax__proxy *p, ax_future *f, bool join,
                     void (*home_cb)(ax__proxy *p));
void ax__proxy_op(ax__proxy *p, bool cancel);
bool ax__proxy_settled(const ax__proxy *p);
int ax__await_remote(ax_task *t, ax_future *f, int64_t timeout_ns,
                     void **result);
int ax__remote_cancel(ax_future *f);
int ax__remote_complete(ax_future *f, int status, void *value);
int ax__remote_detach(ax_task *t);

/* ext.c */
void ax__ext_loop_stop(ax_loop *L);
void ax__ext_term(ax__rt *rt);

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

/* pool.c */
void *ax__pool_get(ax__pool *p, size_t size);
void ax__pool_put(ax__pool *p, void *obj, size_t size, uint32_t *magic);
void ax__pools_term(ax_loop *L);

/* stack.c */
int ax__stack_get(ax_loop *L, size_t size, ax__stack *out);
void ax__stack_put(ax_loop *L, ax__stack *s, size_t size);
void ax__stack_pool_term(ax_loop *L);
int ax__altstack_init(ax_loop *L);
void ax__altstack_term(ax_loop *L);
size_t ax__stack_round(ax_loop *L, size_t size);

#endif
