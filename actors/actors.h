/* SPDX-License-Identifier: MIT */
/* Private declarations of the actor layer (actors/). Never installed. */
#ifndef AX_ACTORS_H
#define AX_ACTORS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "axon.h"
#include "ext.h"

typedef struct ax__actor ax__actor;
typedef struct ax__actors ax__actors;

/* actor.c, for monitor.c: all on the calling loop. */
ax__actor *ax__actor_lookup(ax_loop *L, ax_actor_ref ref);
ax_loop *ax__actor_loop(ax_loop *L, ax_actor_ref ref);
void *ax__actor_watch_new(ax_actor_ref who, bool link); /* NULL: no memory */
ax_actor_ref ax__actor_watch_who(const void *node);
void ax__actor_watch_free(void *node);
void ax__actor_watch_add(ax__actor *a, void *node); /* takes the node */
void ax__actor_exit_signal(ax__actor *a, ax_actor_ref from, int reason);
void ax__actor_down_now(ax_loop *L, ax_actor_ref watcher, ax_actor_ref target);
void ax__actor_kill(ax__actor *a, int reason);

/* monitor.c */
void ax__link_exit(ax_loop *L, ax_actor_ref to, ax_actor_ref from,
                   int reason);

#endif
