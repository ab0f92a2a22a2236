/* Private declarations of the actor layer (actors/). Never installed. */
#ifndef AX_ACTORS_H
#define AX_ACTORS_H

#include "internal.h"

typedef struct ax__actor ax__actor;

int ax__actors_init(ax__rt *rt);
void ax__actors_term(ax__rt *rt);

/* actor.c, for monitor.c: all on the calling loop. */
ax__actor *ax__actor_lookup(ax_loop *L, ax_actor_ref ref);
ax_loop *ax__actor_loop(ax_loop *L, ax_actor_ref ref);
void ax__actor_watch_add(ax__actor *a, ax_actor_ref who, bool link);
void ax__actor_exit_signal(ax__actor *a, ax_actor_ref from, int reason);
void ax__actor_down_now(ax_loop *L, ax_actor_ref watcher, ax_actor_ref target);

/* monitor.c */
void ax__link_exit(ax_loop *L, ax_actor_ref to, ax_actor_ref from,
                   int reason);

#endif
