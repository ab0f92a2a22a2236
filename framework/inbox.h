/* SPDX-License-Identifier: MIT */
/*
 * A loop's inbox: a lock-free multi-producer single-consumer queue of
 * ax__msg nodes (ext.h) plus its doorbell (doorbell.c: an eventfd, or a
 * pipe). inbox.c and doorbell.c. Never installed.
 */
#ifndef AX_INBOX_H
#define AX_INBOX_H

#include "platform.h"
#include "ext.h"

typedef struct ax__bell {
    int rfd, wfd;
} ax__bell;

/* Producer and consumer fields on separate cache lines: senders hammer
 * head, the owning loop walks tail. */
typedef struct ax__inbox {
    _Alignas(64) ax__msg *_Atomic head;
    _Alignas(64) ax__msg *tail;
    _Alignas(64) ax__msg stub;
    _Alignas(64) atomic_int sleeping;
    bool vclock; /* the loop's virtual_clock, on the line producers read */
    atomic_ullong rings;
    ax__bell bell;
} ax__inbox;

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

#endif
