/* SPDX-License-Identifier: MIT */
/*
 * Supervision: a counter server that crashes is restarted by its
 * supervisor, with a fresh state. "Let it crash": nobody checks for the
 * bad request; the supervisor puts things right.
 *
 *   Erlang: supervisor:start_link(...), gen_server:call(Counter, get)
 */
#include <axon.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int init(void *arg, void **state)
{
    *state = arg; /* the count starts at the spec's argument */
    return 0;
}

static int handle_call(void *req, ax_gs_from *from, void **reply, void *state)
{
    (void)from;
    if (req == NULL)
        return AX_EINVAL; /* a bad request: crash, with a reason */
    *reply = (void *)((intptr_t)state + (intptr_t)req);
    return AX_GS_REPLY;
}

static const ax_gs_callbacks counter = {.init = init,
                                        .handle_call = handle_call};

static int ask(ax_actor_ref sup, void *req, void **out)
{
    ax_actor_ref kid;
    size_t n;
    int rc = ax_sup_which_children(sup, &kid, 1, &n);

    return rc ? rc : ax_gs_call(kid, req, 1.0, out);
}

static void *main_task(void *arg)
{
    ax_sup_spec spec = {.name = "counter", .gs = &counter, .arg = (void *)10};
    ax_sup_opts opts = {.strategy = AX_SUP_ONE_FOR_ONE};
    ax_actor_ref sup;
    void *v;
    int rc;

    (void)arg;
    rc = ax_sup_start(&sup, &opts, &spec, 1);
    if (rc || (rc = ask(sup, (void *)5, &v)))
        return ax_task_fail(rc);
    printf("10 + 5 = %ld\n", (long)(intptr_t)v);
    if ((rc = ask(sup, NULL, &v)) != AX_EINVAL) /* the server's last words */
        return ax_task_fail(rc ? rc : AX_EPERM);
    printf("bad request: %s, the server crashed\n", ax_err_name(rc));
    /* Give the supervisor a moment to notice and restart it. */
    if ((rc = ax_sleep(0.01)) || (rc = ask(sup, (void *)1, &v)))
        return ax_task_fail(rc);
    printf("restarted: 10 + 1 = %ld\n", (long)(intptr_t)v);
    if (getenv("AX_EXAMPLE_ELAPSED")) /* for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    if ((rc = ax_sup_stop(sup, -1)))
        return ax_task_fail(rc);
    return NULL;
}

int main(void)
{
    int rc = ax_run(main_task, NULL, NULL);

    if (rc)
        fprintf(stderr, "ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
