/* SPDX-License-Identifier: MIT */
/*
 * Monitors and links. The watch list lives in the watched actor, on its
 * loop; a request from another loop is posted there. Both directions of a
 * link are two watches, one in each actor.
 */
#include "actors.h"

static void watch_run(ax_loop *L, void *target, void *node, int link,
                      bool drop)
{
    ax_actor_ref t = {(uint64_t)(uintptr_t)target};
    ax_actor_ref w = ax__actor_watch_who(node);
    ax__actor *a;

    if (drop) {
        ax__actor_watch_free(node);
        return;
    }
    a = ax__actor_lookup(L, t);
    if (a) {
        ax__actor_watch_add(a, node);
        return;
    }
    ax__actor_watch_free(node);
    /* Already gone: a monitor hears at once; a link acts as an exit. */
    if (!link)
        ax__actor_down_now(L, w, t);
    else
        ax__link_exit(L, w, t, AX_ESRCH);
}

static int watch(ax_actor_ref target, ax_actor_ref watcher, bool link)
{
    ax_loop *L = ax__loop_self();
    ax_loop *owner = ax__actor_loop(L, target);
    void *node;
    int rc;

    if (!owner) {
        /* A ref that never named an actor. */
        if (!link)
            ax__actor_down_now(L, watcher, target);
        return link ? AX_ESRCH : 0;
    }
    if (!(node = ax__actor_watch_new(watcher, link)))
        return AX_ENOMEM;
    if (owner == L) {
        watch_run(L, (void *)(uintptr_t)target.id, node, link, false);
        return 0;
    }
    rc = ax__post_call(owner, watch_run, (void *)(uintptr_t)target.id, node,
                       link);
    if (rc)
        ax__actor_watch_free(node);
    return rc;
}

int ax_monitor(ax_actor_ref target)
{
    ax_actor_ref me = ax_actor_self();

    if (!target.id)
        return AX_EINVAL;
    if (!me.id)
        return AX_ENOTACTOR;
    return watch(target, me, false);
}

int ax_link(ax_actor_ref target)
{
    ax_actor_ref me = ax_actor_self();
    ax_loop *L = ax__loop_self();
    void *back;
    int rc;

    if (!target.id || (me.id && target.id == me.id))
        return AX_EINVAL;
    if (!me.id)
        return AX_ENOTACTOR;
    if (!ax_actor_alive(target))
        return AX_ESRCH;
    /* Our half first: after the far half is asked for, nothing may fail. */
    if (!(back = ax__actor_watch_new(target, true)))
        return AX_ENOMEM;
    rc = watch(target, me, true);
    if (rc) {
        ax__actor_watch_free(back);
        return rc;
    }
    ax__actor_watch_add(ax__actor_lookup(L, me), back);
    return 0;
}

static void exit_run(ax_loop *L, void *to, void *from, int reason, bool drop)
{
    ax_actor_ref t = {(uint64_t)(uintptr_t)to};
    ax_actor_ref f = {(uint64_t)(uintptr_t)from};
    ax__actor *a;

    if (drop)
        return;
    a = ax__actor_lookup(L, t);
    if (a)
        ax__actor_exit_signal(a, f, reason);
}

/* Tell linked actor @p to that @p from ended with @p reason. */
void ax__link_exit(ax_loop *L, ax_actor_ref to, ax_actor_ref from,
                   int reason)
{
    ax_loop *owner = ax__actor_loop(L, to);

    if (!owner)
        return;
    if (owner == L)
        exit_run(L, (void *)(uintptr_t)to.id, (void *)(uintptr_t)from.id,
                 reason, false);
    else
        ax__post_call(owner, exit_run, (void *)(uintptr_t)to.id,
                      (void *)(uintptr_t)from.id, reason);
}

static void kill_run(ax_loop *L, void *to, void *unused, int reason,
                     bool drop)
{
    ax__actor *a;

    (void)unused;
    if (drop)
        return;
    a = ax__actor_lookup(L, (ax_actor_ref){(uint64_t)(uintptr_t)to});
    if (a)
        ax__actor_kill(a, reason);
}

static int exit_common(ax_actor_ref target, int reason, bool kill)
{
    ax_loop *L = ax__loop_self();
    ax_loop *owner;

    if (!target.id || reason >= 0)
        return AX_EINVAL;
    if (!L)
        return AX_EPERM;
    if (!ax_actor_alive(target) || !(owner = ax__actor_loop(L, target)))
        return AX_ESRCH;
    if (!kill) {
        ax__link_exit(L, target, ax_actor_self(), reason);
        return 0;
    }
    if (owner == L) {
        kill_run(L, (void *)(uintptr_t)target.id, NULL, reason, false);
        return 0;
    }
    return ax__post_call(owner, kill_run, (void *)(uintptr_t)target.id, NULL,
                         reason);
}

int ax_actor_exit(ax_actor_ref target, int reason)
{
    return exit_common(target, reason, false);
}

int ax_actor_kill(ax_actor_ref target, int reason)
{
    return exit_common(target, reason, true);
}
