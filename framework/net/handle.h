/* SPDX-License-Identifier: MIT */
/*
 * Type-stable memory for the handles of framework/net/ (UDP sockets,
 * processes), so that a stale handle is answered AX_ESRCH instead of
 * reading freed memory. Private, never installed.
 *
 * The same idea as the core's pools (framework/pool.c), kept here because
 * this layer sees no loop struct: a freed handle gets a dead magic word and
 * waits in a FIFO; it is reused only when more than QUARANTINE others wait
 * behind it, and the oldest goes back to malloc beyond KEEP. One pool per
 * kind of handle, shared by every loop of the process, so a mutex guards
 * it; a get or put costs one uncontended lock, next to a socket() or a
 * posix_spawn() that costs far more.
 *
 * A handle struct begins with `nh_head` (the link, then the magic word).
 */
#ifndef AX_NET_HANDLE_H
#define AX_NET_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../alloc.h"

#define NH_QUARANTINE 64
#define NH_KEEP 4096
#define NH_DEAD 0xA7DEAD30u

typedef struct nh_head {
    struct nh_head *next;
    uint32_t magic;
} nh_head;

typedef struct nh_pool {
    pthread_mutex_t mu;
    nh_head *head, *tail;
    size_t n;
} nh_pool;

#define NH_POOL_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0}

/* A zeroed struct of @p size with @p magic set, or NULL. */
static inline void *nh_get(nh_pool *p, size_t size, uint32_t magic)
{
    nh_head *h = NULL;

    pthread_mutex_lock(&p->mu);
    if (p->n > NH_QUARANTINE) {
        h = p->head;
        p->head = h->next;
        if (!p->head)
            p->tail = NULL;
        p->n--;
    }
    pthread_mutex_unlock(&p->mu);
    if (h)
        memset(h, 0, size);
    else if (!(h = ax__calloc(1, size)))
        return NULL;
    __atomic_store_n(&h->magic, magic, __ATOMIC_RELAXED);
    return h;
}

/* Kill the magic word and queue the struct for later reuse. */
static inline void nh_put(nh_pool *p, void *obj)
{
    nh_head *h = obj, *old = NULL;

    __atomic_store_n(&h->magic, NH_DEAD, __ATOMIC_RELAXED);
    h->next = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->next = h;
    else
        p->head = h;
    p->tail = h;
    if (++p->n > NH_KEEP) {
        old = p->head;
        p->head = old->next;
        p->n--;
    }
    pthread_mutex_unlock(&p->mu);
    ax__free(old);
}

/* Is @p obj (not NULL) a live handle of the kind @p magic? */
static inline bool nh_live(const void *obj, uint32_t magic)
{
    return __atomic_load_n(&((const nh_head *)obj)->magic,
                           __ATOMIC_RELAXED) == magic;
}

#endif
