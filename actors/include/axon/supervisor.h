/* SPDX-License-Identifier: MIT */
/**
 * @file axon/supervisor.h
 * @brief Supervisors and a gen_server helper: Erlang/OTP's "let it crash".
 *
 * A supervisor is an actor that starts children from child specs, monitors
 * them, and restarts them when they end, by a strategy:
 *  - AX_SUP_ONE_FOR_ONE: only the child that ended is restarted;
 *  - AX_SUP_ONE_FOR_ALL: all other children are stopped (in reverse start
 *    order), then all are started again in order;
 *  - AX_SUP_REST_FOR_ONE: the children started after the one that ended
 *    are stopped (in reverse order), then it and they are started again;
 *  - AX_SUP_SIMPLE_ONE_FOR_ONE: one spec, no child at start; children are
 *    added with ax_sup_start_child() and restarted one for one.
 *
 * Whether a child is restarted depends on its restart type and exit reason:
 * AX_SUP_PERMANENT always; AX_SUP_TRANSIENT only after an abnormal exit
 * (a reason other than 0 and AX_ESHUTDOWN); AX_SUP_TEMPORARY never (it is
 * forgotten). More than `intensity` restarts within `period` seconds make
 * the supervisor give up: it stops every child and ends with AX_ERESTARTS,
 * which its own supervisor sees as a crash (trees).
 *
 * Stopping a child (ax_sup_terminate_child(), ax_sup_stop(), a strategy)
 * sends it an exit signal with reason AX_ESHUTDOWN (ax_actor_exit()): a
 * child that traps exits gets an AX_MSG_EXIT message and should end; any
 * other is cancelled. The supervisor waits for it up to the spec's
 * shutdown deadline, then kills it (ax_actor_kill(): cancellation that
 * trapping cannot turn into a message). Tasks are cooperative, so a kill
 * takes effect at the child's next suspension (or the current one) and the
 * supervisor waits for the child to end after it: a child that never
 * suspends, or that keeps running after it saw AX_ECANCELED, holds its
 * supervisor's shutdown up. AX_SUP_BRUTAL_KILL skips the polite signal.
 *
 * A supervisor's mailbox is for the calls here: an ask with a tag of
 * yours is answered with AX_EINVAL, other messages are dropped (their
 * payload is not freed).
 *
 * A supervisor is stopped in reverse start order, each child within its
 * deadline, when ax_sup_stop() asks, when it gives up, when it is
 * cancelled, or when it receives an exit signal (it traps exits) with a
 * non-zero reason from an actor that is not its child (its parent
 * supervisor stopping it, a linked actor that crashed); it then ends with
 * that reason.
 *
 * The gen_server helper (ax_gs_*) runs an actor's receive loop over
 * callbacks and a state pointer: calls (ax_gs_call(), answered now or
 * later through a saved handle), casts (ax_gs_cast()), and every other
 * message (handle_info). A supervised server is a spec whose `gs` points
 * at its callbacks.
 *
 * Children and servers may run on any loop of the runtime. Thread: every
 * call here is made from a task on a loop of the runtime; all of them
 * except ax_gs_cast() and ax_gs_reply() suspend.
 */
#ifndef AXON_SUPERVISOR_H
#define AXON_SUPERVISOR_H

#include "axon/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Restart strategies (see the header text). */
typedef enum ax_sup_strategy {
    AX_SUP_ONE_FOR_ONE = 0,
    AX_SUP_ONE_FOR_ALL,
    AX_SUP_REST_FOR_ONE,
    AX_SUP_SIMPLE_ONE_FOR_ONE
} ax_sup_strategy;

/** When a child that ended is started again. */
typedef enum ax_sup_restart {
    AX_SUP_PERMANENT = 0, /**< always */
    AX_SUP_TRANSIENT,     /**< after an abnormal exit only */
    AX_SUP_TEMPORARY      /**< never */
} ax_sup_restart;

/** ax_sup_spec.shutdown: kill at once, without the polite exit signal. */
#define AX_SUP_BRUTAL_KILL (-1.0)
/** ax_sup_spec.shutdown default (seconds) when left 0. */
#define AX_SUP_SHUTDOWN_DEFAULT 5.0

struct ax_gs_callbacks;

/**
 * A custom start function: start one child actor with @p opts (its loop
 * and name are the spec's), store its ref in *out and return 0, or return
 * a negative code. It runs in the supervisor and may suspend (to wait for
 * the child's initialisation, as ax_gs_start() and ax_sup_start() do).
 */
typedef int (*ax_sup_start_fn)(ax_actor_ref *out, void *arg,
                               const ax_actor_opts *opts);

/** A child spec. Zero-initialise, then set one of start, body or gs. */
typedef struct ax_sup_spec {
    const char *name;     /**< for reports and task names; not copied:
                               it must outlive the supervisor */
    ax_sup_start_fn start; /**< custom start (then body and gs unused) */
    ax_task_fn body;      /**< else: ax_actor_spawn(body, arg) */
    const struct ax_gs_callbacks *gs; /**< else: ax_gs_start(gs, arg) */
    void *arg;            /**< passed at every (re)start; never freed by
                               the supervisor. simple_one_for_one: unused,
                               see ax_sup_start_child() */
    ax_loop *loop;        /**< where the child runs; NULL: the
                               supervisor's loop */
    ax_actor_opts actor;  /**< mailbox and stack options for the child
                               (its loop and name are overridden) */
    ax_sup_restart restart; /**< AX_SUP_PERMANENT by default */
    double shutdown;      /**< seconds to wait after the exit signal;
                               0: AX_SUP_SHUTDOWN_DEFAULT; INFINITY: no
                               limit; AX_SUP_BRUTAL_KILL */
} ax_sup_spec;

/** Supervisor options. Zero-initialise: one_for_one, 3 restarts in 5 s,
 *  on the current loop. */
typedef struct ax_sup_opts {
    ax_sup_strategy strategy;
    int intensity;    /**< restarts allowed within period; 0: 3; negative:
                           none (the first restart gives up) */
    double period;    /**< seconds; 0: 5 */
    const char *name; /**< the supervisor's task name; copied */
    ax_loop *loop;    /**< where the supervisor runs; NULL: current loop */
} ax_sup_opts;

/**
 * Start a supervisor and its children, in order, and return once they all
 * started (Erlang's supervisor:start_link, without the link). If a child
 * fails to start, those already started are stopped and the supervisor
 * ends. The specs are copied (names are not: see ax_sup_spec.name).
 * @param out receives the supervisor's ref (may be NULL).
 * @param opts NULL for the defaults.
 * @param children @p n specs (exactly one for simple_one_for_one).
 * @return 0; AX_EINVAL (a NULL @p children with @p n > 0, a spec with no
 *         start, body nor gs, simple_one_for_one without exactly one spec,
 *         a NaN or negative period or shutdown other than
 *         AX_SUP_BRUTAL_KILL); AX_ENOTTASK outside a task; a child's start
 *         code; ax_actor_spawn()'s codes; AX_ECANCELED if the caller was
 *         cancelled while waiting (the supervisor is then killed and stops
 *         the children it started).
 * Suspends: yes. Thread: a task on any loop of the runtime.
 */
AX_EXTERN int ax_sup_start(ax_actor_ref *out, const ax_sup_opts *opts,
                           const ax_sup_spec *children, size_t n);

/**
 * ax_sup_start() as a start function, for a supervisor under a supervisor:
 * @p arg is an ax_sup_child_args that must outlive the parent.
 */
typedef struct ax_sup_child_args {
    ax_sup_opts opts;
    const ax_sup_spec *children;
    size_t n;
} ax_sup_child_args;

/** A start function (ax_sup_start_fn) that starts a supervisor from an
 *  ax_sup_child_args; its loop and name come from the spec.
 *  @return as ax_sup_start(). Suspends: yes. */
AX_EXTERN int ax_sup_start_fn_sup(ax_actor_ref *out, void *arg,
                                  const ax_actor_opts *opts);

/**
 * Start a child of a simple_one_for_one supervisor with @p arg (the
 * supervisor passes it at each restart and never frees it).
 * @param ref receives the child's ref (may be NULL).
 * @return 0; AX_EINVAL (a null ref, a supervisor of another strategy);
 *         AX_ESRCH if the supervisor has ended; the start code;
 *         AX_ENOTTASK; AX_ECANCELED. Suspends: yes.
 */
AX_EXTERN int ax_sup_start_child(ax_actor_ref sup, void *arg,
                                 ax_actor_ref *ref);

/**
 * Stop the child @p child as its spec says (exit signal, deadline, kill);
 * it is not restarted (a static child keeps its place but stays down; a
 * dynamic one is forgotten).
 * @return 0 once it has ended; AX_ESRCH if @p sup has ended or @p child is
 *         not its running child; AX_EINVAL; AX_ENOTTASK; AX_ECANCELED.
 * Suspends: yes.
 */
AX_EXTERN int ax_sup_terminate_child(ax_actor_ref sup, ax_actor_ref child);

/**
 * The refs of the running children, in start order.
 * @param out room for @p cap refs (may be NULL when @p cap is 0).
 * @param n receives the number of running children (may exceed @p cap:
 *        only the first @p cap are stored).
 * @return 0; AX_EINVAL (NULL @p n, NULL @p out with @p cap > 0);
 *         AX_ESRCH; AX_ENOTTASK; AX_ECANCELED; AX_ENOMEM. Suspends: yes.
 */
AX_EXTERN int ax_sup_which_children(ax_actor_ref sup, ax_actor_ref *out,
                                    size_t cap, size_t *n);

/**
 * Stop a supervisor: its children in reverse start order, each within its
 * deadline; then it ends normally (reason 0).
 * @param timeout seconds to wait for all that (negative: no limit); on
 *        AX_ETIMEDOUT the shutdown goes on.
 * @return 0; AX_ESRCH if it has ended; AX_ETIMEDOUT; AX_EINVAL (null ref,
 *         NaN timeout); AX_ENOTTASK; AX_ECANCELED. Suspends: yes.
 */
AX_EXTERN int ax_sup_stop(ax_actor_ref sup, double timeout);

/** ax_sup_stop() bounded by an absolute @p deadline (time.h);
 *  AX_EINVAL also for a deadline below -1. Suspends: yes. */
AX_EXTERN int ax_sup_stop_dl(ax_actor_ref sup, int64_t deadline);

/* ---- gen_server ---------------------------------------------------------- */

/** handle_call's return: answer with *reply now and go on. */
#define AX_GS_REPLY 0
/** handle_call's return: answer later with ax_gs_reply(from, ...). */
#define AX_GS_NOREPLY 1
/** Any callback's return: stop normally (reason 0); from handle_call,
 *  after answering with *reply. A negative return stops the server with
 *  that reason (a call being handled is answered with it). */
#define AX_GS_STOP 2

/** A call's reply handle, for answering later (AX_GS_NOREPLY). */
typedef struct ax_gs_from ax_gs_from;

/** The callbacks; NULL ones do the obvious nothing. state is yours.
 *  Callbacks may suspend. Cancellation is cooperative: a cancel or exit
 *  signal that arrives while a callback is suspended is seen by that
 *  callback (AX_ECANCELED from its call), not by the server's loop, so a
 *  callback that sees AX_ECANCELED should return it to stop the server. */
typedef struct ax_gs_callbacks {
    /** Make the state from the start argument: 0, or a negative code
     *  (ax_gs_start() returns it and the server ends). */
    int (*init)(void *arg, void **state);
    /** A call: set *reply and return AX_GS_REPLY, or keep @p from and
     *  return AX_GS_NOREPLY, or AX_GS_STOP, or a negative reason. NULL:
     *  every call fails with AX_EINVAL. */
    int (*handle_call)(void *req, ax_gs_from *from, void **reply,
                       void *state);
    /** A cast: 0, AX_GS_STOP or a negative reason. The server owns
     *  @p msg. */
    int (*handle_cast)(void *msg, void *state);
    /** Any other message (user tags, AX_MSG_DOWN, AX_MSG_EXIT but its
     *  parent's): 0, AX_GS_STOP or a negative reason. An ask arriving here
     *  must be answered here (ax_reply(m, ...)); one left unanswered is
     *  answered with AX_EINVAL. */
    int (*handle_info)(ax_msg *m, void *state);
    /** Last words, with the exit reason: 0, a callback's code,
     *  AX_ECANCELED when the server was cancelled or sent an exit signal
     *  it does not trap, or the reason of its parent's exit signal (the
     *  parent is the actor that called ax_gs_start(), a supervisor for
     *  instance; a server that traps exits stops on its non-zero exit
     *  signal, as in Erlang). Free the state here. Calls kept with
     *  AX_GS_NOREPLY are answered afterwards with the reason (AX_ESHUTDOWN
     *  for a normal stop); their handles are then invalid. May suspend. */
    void (*terminate)(int reason, void *state);
} ax_gs_callbacks;

/**
 * Start a server and run init() in it; return when init() has.
 * @param out receives the ref (may be NULL).
 * @param cb must outlive the server.
 * @param opts NULL or actor options (loop, mailbox, trap_exits, name).
 * @return 0; init()'s code; AX_EINVAL (NULL @p cb); ax_actor_spawn()'s
 *         codes; AX_ENOTTASK; AX_ECANCELED if the caller was cancelled
 *         while waiting (the server is then killed). Suspends: yes.
 */
AX_EXTERN int ax_gs_start(ax_actor_ref *out, const ax_gs_callbacks *cb,
                          void *arg, const ax_actor_opts *opts);

/**
 * Call the server: handle_call(req) runs there, its reply lands in
 * *reply (may be NULL). The caller giving up (timeout, cancel, death)
 * leaves the server unharmed; a late reply is dropped.
 * @param timeout seconds, negative: no limit.
 * @return 0; AX_ETIMEDOUT; AX_ESRCH if the server has ended (or ends
 *         before taking the call); the server's exit reason if it stops
 *         while the call is being or waiting to be answered (AX_ESHUTDOWN
 *         for a normal stop); handle_call's negative code; AX_EDEADLK (a
 *         server calling itself); AX_EINVAL; AX_ENOTTASK; AX_ECANCELED.
 * Suspends: yes.
 */
AX_EXTERN int ax_gs_call(ax_actor_ref server, void *req, double timeout,
                         void **reply);

/** ax_gs_call() bounded by an absolute @p deadline (time.h).
 *  @return as ax_gs_call(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_gs_call_dl(ax_actor_ref server, void *req,
                            int64_t deadline, void **reply);

/**
 * Cast @p msg to the server (handle_cast). Fire and forget.
 * @return as ax_send() (on error @p msg stays the caller's).
 * Suspends: only while the mailbox is full.
 */
AX_EXTERN int ax_gs_cast(ax_actor_ref server, void *msg);

/**
 * Answer a call kept with AX_GS_NOREPLY and free the handle; or, inside
 * the handle_call that received @p from, answer it at once (whatever
 * handle_call then returns, the call is answered; the handle stays the
 * server's).
 * @return 0; AX_EINVAL (NULL); AX_EWRONGLOOP off the server's loop;
 *         AX_EALREADY for a second answer inside handle_call.
 * Thread: the server's loop (a callback of the server, usually).
 * Suspends: no.
 */
AX_EXTERN int ax_gs_reply(ax_gs_from *from, void *value);

/**
 * Stop the server normally: terminate(0) runs, then it ends with reason 0.
 * @return 0 once terminate() has run; AX_ESRCH; AX_ETIMEDOUT (timeout in
 *         seconds, negative: no limit; the stop still happens);
 *         AX_EINVAL; AX_ENOTTASK; AX_ECANCELED. Suspends: yes.
 */
AX_EXTERN int ax_gs_stop(ax_actor_ref server, double timeout);

#ifdef __cplusplus
}
#endif
#endif
