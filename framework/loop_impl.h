/* SPDX-License-Identifier: MIT */
/*
 * The loop and the runtime from the inside (loop.c, runtime.c): one
 * ax_loop per thread, reached through a thread-local; the ax__rt that the
 * loops of one ax_run() share. Each part keeps its own state in a struct
 * of its own here (inbox, timers, stacks). Never installed.
 */
#ifndef AX_LOOP_IMPL_H
#define AX_LOOP_IMPL_H

#include <pthread.h>
#include <stdio.h>

#include "future_impl.h"
#include "inbox.h"
#include "task_impl.h"
#include "stack.h"
#include "timer.h"
#include "axon/loop.h"
#include "axon/runtime.h"
#include "axon/scope.h"

/* A lock, event, condition, semaphore or barrier (sync.c). */
typedef struct ax__sync ax__sync;

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
    _Atomic int64_t vclock; /* the latest time any loop advanced to */
    /* Deadlock detection with several loops: bumped by every loop that
     * leaves its stuck-idle state, and by the loop that claims a deadlock
     * (see runtime_stuck() in loop.c). */
    _Alignas(64) atomic_ulong dl_epoch;
    /* The blocking-work pool (threadpool.c), made on first use under
     * ext_lock, and its limits from ax_opts. */
    _Atomic(struct ax__tpool *) tpool;
    int tpool_max;
    size_t tpool_queue;
    struct ax__trace *trace; /* AX_TRACE / ax_opts.trace; NULL: off */
    int trace_rc;            /* the trace file's close failed */
} ax__rt;

struct ax_loop {
    ax__loop_pub pub; /* first: ext.h reads it (current, index, ext[]) */
    ax__inbox inbox;  /* cache-line aligned within */
    ax__rt *rt;
    atomic_bool closed;       /* no longer takes posts */
    atomic_int posting;       /* ax_loop_post calls in progress */
    atomic_size_t posts_queued; /* ax_loop_post calls accepted, not yet run */
    size_t max_posts;         /* bound on posts_queued */
    atomic_bool teardown_req; /* the runtime is shutting down */
    atomic_bool quit_req;     /* every task everywhere has ended */
    atomic_bool foreign_posts;/* a thread without a loop posted here */
    atomic_bool vidle;        /* virtual clock: nothing to run here */
    _Atomic int64_t vnext;    /* idle: earliest deadline; INT64_MAX none */
    /* Deadlock detection with several loops (loop.c): about to block with
     * nothing of its own that could wake a task (no timer, no event of the
     * application, no foreign poster); the flags other loops set here and
     * whether this loop has taken them in. */
    atomic_bool dl_idle;
    atomic_bool teardown_ack;
    atomic_uint deadlock_req;
    atomic_uint deadlock_ack;
    bool deadlock_check;
    /* Tasks of this loop waiting for a pool job (threadpool.c): a pool
     * thread will wake them, so the loop is not deadlocked. */
    size_t tpool_waits;
    struct event *bell_ev;
    /* The loop's epoll set for its descriptors (wait.c; AX_USE_EPOLL):
     * made at the first ax__io_init(), watched by libevent as the one
     * event ev (NULL: no set), closed by ax__io_set_term(). n counts the
     * descriptors in it: each stands for an event the application could
     * be woken by (user_events() in loop.c), as libevent's own did. */
    struct {
        struct event *ev;
        int fd;
        unsigned n;
    } ep;
    struct event *sig_ev[2];
    bool sig_stopped; /* a signal cancelled the main task */
    bool sig_seen;    /* a stop signal came: the next one is fatal */
    struct ax__sigs *sigs; /* loop 0: ax_signal_wait's catchers */
    struct event_base *base;
    ax__runq rq;
    ax_task *main;

    ax_task *tasks;    /* every task struct not yet freed */
    size_t nunfinished; /* tasks not yet DONE */
    ax_future *futures;
    ax_group *groups;
    ax__sync *syncs;   /* locks, events, ... not yet freed (sync.c) */
    struct wset *waitsets; /* as_completed iterators not yet freed */

    ax__timers tm;
    ax__stacks stk;
    /* ax_call_soon() and the others (scope.c): callbacks due, in order,
     * and every handle not yet freed. */
    struct {
        ax_handle *head, *tail;
        ax_handle *all;
    } cb;

    FILE *report;
    FILE *log_sink; /* ax_opts.log's stream (trace.c), or NULL */
    bool tearing_down;
    /* Done callbacks running (future.c): they run inline, often inside a
     * task, and must not suspend it, so an eager spawn there queues. */
    unsigned in_done_cb;
    bool deadlocked;
    ax_loop_stats st;

    ax__pools pools;
    /* Free read buffers of AX__IO_BUF bytes (wait.c), linked through
     * their first word. */
    struct {
        void *head;
        unsigned n;
    } iobuf;
};


static inline ax_task *ax__current(void)
{
    ax_loop *L = ax__tls_loop;
    return L ? L->pub.current : NULL;
}

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

/* wait.c: fetch the edges waiting in the loop's epoll set, without
 * blocking, and hand them to their ios (nothing without AX_USE_EPOLL or
 * before the set exists: call it only when L->ep.n); close the set
 * (ax__loop_leave(), on the loop's thread, before the event_base goes). */
void ax__io_poll(ax_loop *L);
void ax__io_set_term(ax_loop *L);

/* wait.c: free the cached read buffers (ax__loop_leave(), on the loop's
 * thread: afterwards none is cached, since the thread has no loop). */
void ax__io_bufs_term(ax_loop *L);

/* waitset.c */
size_t ax__waitset_term(ax_loop *L);

/* signal.c */
void ax__signal_term(ax_loop *L);

/* error.c */
void ax__report(ax_loop *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ext.c */
void ax__ext_loop_stop(ax_loop *L);
void ax__ext_term(ax__rt *rt);

/* sync.c */
void ax__sync_task_ended(ax_task *t, bool release);
size_t ax__sync_term(ax_loop *L);

/* threadpool.c */
void ax__tpool_term(ax__rt *rt);
/* trace.c: the trace (off: L->pub.trace is NULL) and the log callback */
typedef struct ax__trace ax__trace;
int ax__trace_open(ax__rt *rt, const ax_opts *opts);
int ax__trace_close(ax__rt *rt);
void ax__trace_loop_start(ax_loop *L);
void ax__trace_loop_end(ax_loop *L);
/* ph: 'B' a run starts, 'E' it ends (what: "end", "yield" or what it
 * waits for), 'i' the task arrived (spawn). */
void ax__trace_task(ax_loop *L, ax_task *t, char ph, const char *what,
                    int status);
FILE *ax__log_open(ax_log_fn fn, void *arg);

/* pool.c */
void *ax__pool_get(ax__pool *p, size_t size);
void ax__pool_put(ax__pool *p, void *obj, size_t size, uint32_t *magic);
/* For a struct another loop's pool gave out (a cross-loop spawn). */
void ax__pool_put_foreign(ax__pool *p, void *obj, size_t size,
                          uint32_t *magic);
void ax__pools_term(ax_loop *L);

#endif
