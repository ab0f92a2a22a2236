/* SPDX-License-Identifier: MIT */
/*
 * Futures from the inside: waiter lists (future.c), cross-loop proxies
 * (remote.c), gathers (gather.c). Never installed.
 */
#ifndef AX_FUTURE_IMPL_H
#define AX_FUTURE_IMPL_H

#include "platform.h"
#include "ext.h"
#include "axon/future.h"

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
    bool peek;   /* only watching (ax_wait): the outcome stays unread */
    bool back, rejected;
    /* The owner sent it home unregistered, not completed. Written by the
     * owner before it sends the proxy home: read it only once back is set
     * (the inbox orders the two), never to decide whether it is back. */
    bool unregistered;
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
#define AX__MAGIC_QUEUE 0xA7063000u
#define AX__MAGIC_WAITSET 0xA7064000u
#define AX__MAGIC_SYNC 0xA7053000u /* | kind: a live lock, event, ... */
#define AX__MAGIC_HANDLE 0xA7065000u
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

/* A loop's freed structs by kind, kept for handle checks (pool.c). The
 * synchronisation objects (sync.c) share one pool: they are all one
 * struct. */
typedef struct ax__pools {
    ax__pool task, future, gather, group, queue, sync, waitset, handle;
} ax__pools;

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

/* future.c */
void ax__future_init(ax_future *f, ax_loop *L, uint8_t kind);
void ax__future_complete(ax_future *f, int status, void *value);
void ax__waiter_add(ax_future *f, ax__waiter *w);
void ax__waiter_remove(ax_future *f, ax__waiter *w);
void ax__waiter_wake_task(ax__waiter *w, ax_future *f);
void ax__future_track(ax_loop *L, ax_future *f);
void ax__future_untrack(ax_loop *L, ax_future *f);
int ax__await(ax_task *t, ax_future *f, int64_t deadline, void **result);

/* remote.c */
void ax__proxy_start(ax__proxy *p, ax_future *f, bool join,
                     void (*home_cb)(ax__proxy *p));
/* Watch without taking: the outcome comes home, nothing is consumed. */
void ax__proxy_watch(ax__proxy *p, ax_future *f,
                     void (*home_cb)(ax__proxy *p), void *ctx);
void ax__proxy_op(ax__proxy *p, bool cancel);
bool ax__proxy_settled(const ax__proxy *p);
int ax__await_remote(ax_task *t, ax_future *f, int64_t deadline,
                     void **result);
/* ax_shield() of another loop's future (remote.c). */
int ax__shield_remote(ax_task *t, ax_future *f, void **result);
int ax__remote_cancel(ax_future *f);
int ax__remote_complete(ax_future *f, int status, void *value);
int ax__remote_detach(ax_task *t);

/* gather.c */
int ax__gather_cancel(ax_future *f);
void ax__gather_free(ax_future *f);
void ax__group_teardown(ax_group *g);

/* waitset.c */
int ax__wait_any_remote(ax_task *t, ax_future *const *futs, size_t n,
                        int64_t deadline, size_t *index);

#endif
