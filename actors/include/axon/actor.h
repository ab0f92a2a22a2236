/* SPDX-License-Identifier: MIT */
/**
 * @file axon/actor.h
 * @brief Actors: tasks with a mailbox and an address.
 *
 * An actor is a task whose body loops on ax_recv(). Its address, an
 * ax_actor_ref, is a plain 64-bit value (slot and generation) that may be
 * copied to any loop of the runtime; a ref to an actor that has ended fails
 * with AX_ESRCH and never touches freed memory, even after its slot has
 * been reused by a newer actor (the generation differs). There is no limit
 * on how many actors a runtime starts in its life; at most 4,194,304 are
 * alive at once.
 *
 * Messages are (tag, data) pairs: the tag is yours (negative tags are
 * reserved: AX_MSG_DOWN, AX_MSG_EXIT), the data pointer is a payload whose
 * ownership passes to the receiver when ax_send() returns 0 and stays with
 * the sender when it fails. Messages from one sender to one receiver
 * arrive in the order they were sent, on the same loop or across loops.
 *
 * Mailboxes are bounded (capacity in the options, 1024 by default): when a
 * mailbox is full, ax_send() suspends the sending task until there is room
 * (backpressure), and ax_try_send() returns AX_EAGAIN. The bound counts
 * every message accepted and not yet taken by ax_recv(), including those
 * still crossing from another loop's thread (the receiver drains its
 * inbox once per scheduling round), so a full mailbox may look shorter
 * from inside the actor for a moment. Unbounded mailboxes are there on
 * request.
 *
 * A full mailbox is fair: senders waiting for room get it in the order
 * they came, whichever loop they run on, and a sender that finds others
 * waiting queues behind them. Room is handed out in batches once the
 * mailbox has drained to half: the free places are counted for the
 * waiting senders, a share each, so one wake-up covers several sends.
 * Places handed to a sender's loop, or taken in a batch by a loop that
 * streams to an actor of another loop, count against the bound until they
 * are used; what a loop has not used goes back when its scheduling round
 * ends. So ax_try_send() may see AX_EAGAIN while the actor holds fewer
 * than capacity messages: the rest of the room is promised to others.
 *
 * Nothing is lost: a message accepted by ax_send() is either taken by the
 * receiver's ax_recv(), or, if the actor ends first or the runtime stops,
 * handed to the undelivered hook (ax_actor_set_undelivered(), which can free
 * the payload) and counted in
 * ax_actor_stats.msgs_undelivered.
 *
 * Monitors and links, in Erlang's terms:
 *  - ax_monitor(ref): when that actor ends, the caller gets an AX_MSG_DOWN
 *    message with `from` the ended actor and `reason` its exit status (0 for
 *    a normal return, its failure code, AX_ECANCELED; AX_ESRCH if it was
 *    already gone when the monitor was set).
 *  - ax_link(ref): both directions. When either ends with a non-zero reason
 *    the other is cancelled and ends with the same reason, unless it traps
 *    exits (ax_actor_opts.trap_exits), in which case it receives an
 *    AX_MSG_EXIT message instead. A normal exit (reason 0) does not
 *    propagate.
 *
 * A small registry names well-known actors (ax_register, ax_whereis).
 *
 * Thread: all calls are made from tasks (or loop callbacks where noted) on
 * any loop of the runtime.
 */
#ifndef AXON_ACTOR_H
#define AXON_ACTOR_H

#include <stdbool.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An actor's address: copy it freely. {0} is "no actor". */
typedef struct ax_actor_ref {
    uint64_t id;
} ax_actor_ref;

/** The null ref ("no actor"). */
#ifdef __cplusplus
#define AX_ACTOR_NONE (ax_actor_ref{0})
#else
#define AX_ACTOR_NONE ((ax_actor_ref){0})
#endif

/** Tag of the message a monitor receives when its target ends. */
#define AX_MSG_DOWN (-1)
/** Tag of the message a linked actor that traps exits receives. */
#define AX_MSG_EXIT (-2)

/** A received message. */
typedef struct ax_msg {
    int tag;           /**< the sender's tag, or AX_MSG_DOWN / AX_MSG_EXIT */
    int reason;        /**< DOWN / EXIT: the ended actor's exit status */
    void *data;        /**< the payload, now the receiver's */
    ax_actor_ref from; /**< the sending actor, or AX_ACTOR_NONE */
    void *reply_;      /**< private: where ax_reply() sends the answer */
} ax_msg;

/** Default mailbox capacity. */
#define AX_MAILBOX_DEFAULT 1024

/** Actor options. Zero-initialise, then set what you need: all zeroes is
 *  the default actor (a mailbox of AX_MAILBOX_DEFAULT, on the current
 *  loop). */
typedef struct ax_actor_opts {
    size_t capacity;   /**< mailbox bound; 0: AX_MAILBOX_DEFAULT */
    bool unbounded;    /**< no bound (capacity is ignored) */
    bool trap_exits;   /**< linked exits arrive as AX_MSG_EXIT messages */
    const char *name;  /**< task name for reports; copied */
    size_t stack_size; /**< 0: the loop's default */
    ax_loop *loop;     /**< where the actor runs: NULL is the current
                            loop, or any loop of the runtime (ax_loop_at) */
    /** Run on the loop's shared stack (ax_task_opts.shared_stack): a
     *  waiting actor keeps only the bytes of its stack in use, not a page
     *  of its own (a writer actor per connection of a chat server). The
     *  actor calls work there (ax_recv(), ax_send() and ax_ask() waiting
     *  for room, ax_call(), ax_reply()), as do the calls that
     *  ax_task_opts.shared_stack lists; the others return AX_ENOTSUP.
     *  Not with stack_size (AX_EINVAL). */
    bool shared_stack;
} ax_actor_opts;

/**
 * Start an actor running fn(arg), on the current loop or on opts->loop.
 * The actor frees itself when fn returns; nothing is handed to the caller
 * but its ref.
 * @param out  receives the ref (may be NULL).
 * @param fn   the body; it receives with ax_recv() until it returns.
 * @param arg  passed to @p fn; the caller and the body agree who frees it.
 * @param opts NULL or zero-initialised for the defaults.
 * @return 0; AX_EINVAL (NULL fn, a stack size above 1 GiB, a loop of
 *         another runtime); AX_EPERM outside a loop; AX_ESHUTDOWN during
 *         shutdown; AX_EAGAIN if 4,194,304 actors of the runtime are alive;
 *         AX_ENOMEM.
 * Suspends: no. Thread: any loop thread of the runtime.
 */
AX_EXTERN int ax_actor_spawn(ax_actor_ref *out, ax_task_fn fn, void *arg,
                             const ax_actor_opts *opts);

/** The running actor's ref, or AX_ACTOR_NONE outside an actor (in a plain
 *  task, a loop callback or a thread that runs no loop). Any thread. */
AX_EXTERN ax_actor_ref ax_actor_self(void);

/** Whether two refs name the same actor. */
static inline bool ax_ref_eq(ax_actor_ref a, ax_actor_ref b)
{
    return a.id == b.id;
}

/**
 * Send (tag, data) to @p to. From a task, a full bounded mailbox suspends
 * the caller until there is room; from a loop callback it fails with
 * AX_EAGAIN instead.
 * @return 0 (the payload is the receiver's now); AX_EINVAL for a null ref;
 *         AX_ESRCH for a ref to an ended (or never existing) actor;
 *         AX_EAGAIN (not in a task, mailbox full); AX_ECANCELED if the
 *         sender was cancelled while waiting for room; AX_EPERM outside a
 *         loop; AX_ENOMEM. On error the payload stays the caller's.
 * Suspends: only while the mailbox is full.
 */
AX_EXTERN int ax_send(ax_actor_ref to, int tag, void *data);

/**
 * ax_send() that waits for room in a full mailbox only until @p deadline
 * (time.h; AX_NO_DEADLINE: as ax_send()). With room, the message is
 * accepted even when the deadline has passed.
 * @return as ax_send(); AX_ETIMEDOUT if the mailbox stayed full until the
 *         deadline (the payload stays the caller's); AX_EINVAL also for a
 *         deadline below -1 (ax_deadline_in(NAN)).
 * Suspends: only while the mailbox is full.
 */
AX_EXTERN int ax_send_dl(ax_actor_ref to, int tag, void *data,
                         int64_t deadline);

/**
 * Send without ever suspending.
 * @return as ax_send(); AX_EAGAIN when the mailbox is full (counting
 *         the room granted to waiting senders; see the header text).
 */
AX_EXTERN int ax_try_send(ax_actor_ref to, int tag, void *data);

/**
 * Deliver an AX_MSG_DOWN message with @p reason and @p data to @p to, for
 * layers that watch something other than a local actor (axon/node.h: an
 * actor on another node). It is a user message like ax_try_send()'s
 * (counted, bounded by the mailbox, never suspends; @p data passes to the
 * receiver, or to the undelivered hook if the receiver ends first);
 * `from` is AX_ACTOR_NONE.
 * @param reason 0 or a negative code, read by the receiver in ax_msg.reason.
 * @return as ax_try_send(); AX_EINVAL also for @p reason > 0.
 * Suspends: no. Thread: any loop thread of the runtime.
 */
AX_EXTERN int ax_send_down(ax_actor_ref to, int reason, void *data);

/**
 * Take the next message from the current actor's mailbox, waiting up to
 * @p timeout seconds (negative: no limit).
 * @return 0 and *out filled; AX_ETIMEDOUT; AX_ECANCELED; AX_EINVAL for a
 *         NULL @p out, a NaN timeout or one above 100 years; AX_ENOTACTOR
 *         if the caller is not an actor.
 * Suspends: yes, while the mailbox is empty.
 */
AX_EXTERN int ax_recv(ax_msg *out, double timeout);

/**
 * ax_recv() until @p deadline (time.h): AX_NO_DEADLINE waits without
 * limit; a deadline already past still takes a message already there.
 * @return as ax_recv(); AX_EINVAL for a deadline below -1
 *         (ax_deadline_in(NAN)).
 * Suspends: yes, while the mailbox is empty.
 */
AX_EXTERN int ax_recv_dl(ax_msg *out, int64_t deadline);

/**
 * Send a request whose answer comes back through a future (the asker may be
 * any task, actor or not). Await *reply (with ax_await_timeout() for a
 * deadline) and free it with ax_future_free(). If the actor ends without
 * answering (the ask still in its mailbox, or taken by ax_recv() and never
 * answered) the future fails with AX_ESRCH when it ends. A reply that
 * arrives after the future was freed, cancelled or timed out is dropped
 * and counted (replies_dropped), and its value handed to the hook set with
 * ax_actor_set_reply_dropped() (axon does not free it).
 * @return 0; ax_send()'s codes; AX_EDEADLK if an actor asks itself;
 *         AX_EINVAL for NULL @p reply. Suspends: as ax_send().
 */
AX_EXTERN int ax_ask(ax_actor_ref to, int tag, void *data,
                     ax_future **reply);

/**
 * ax_ask() whose wait for room in a full mailbox ends at @p deadline
 * (time.h). Then await *reply with ax_await_future_dl() and the same
 * deadline to bound the whole request (or use ax_call_dl()).
 * @return as ax_ask(); AX_ETIMEDOUT if the mailbox stayed full until the
 *         deadline (nothing was sent); AX_EINVAL also for a deadline below
 *         -1. Suspends: as ax_send().
 */
AX_EXTERN int ax_ask_dl(ax_actor_ref to, int tag, void *data,
                        int64_t deadline, ax_future **reply);

/**
 * ax_ask(), then wait for the answer and free the future: the whole call,
 * room in the mailbox included, takes at most @p timeout seconds
 * (negative: no limit). @p value receives the answer (may be NULL).
 * @return 0; AX_ETIMEDOUT; AX_EINVAL for a NaN timeout or one above 100
 *         years; AX_ENOTTASK outside a task; the codes of ax_ask() and
 *         ax_await(). Suspends: yes.
 */
AX_EXTERN int ax_call(ax_actor_ref to, int tag, void *data, double timeout,
                      void **value);

/**
 * ax_call() bounded by an absolute @p deadline (time.h), which covers both
 * the wait for room and the wait for the answer. AX_NO_DEADLINE: no limit.
 * @return as ax_call(); AX_EINVAL for a deadline below -1.
 * Suspends: yes.
 */
AX_EXTERN int ax_call_dl(ax_actor_ref to, int tag, void *data,
                         int64_t deadline, void **value);

/**
 * Answer a message that came from ax_ask()/ax_call(). Works from any loop;
 * the asker's future completes on the asker's loop. The actor that took
 * the ask owes the answer: when it ends, every ask it took and nobody has
 * answered yet fails with AX_ESRCH, and its ax_msg may no longer be
 * answered (whoever it was handed to must answer before the actor ends;
 * answering after is a use of a freed object, as with a freed future).
 * @return 0; AX_EINVAL if @p m is NULL or was not an ask; AX_EALREADY if it
 *         was answered already.
 */
AX_EXTERN int ax_reply(ax_msg *m, void *value);

/**
 * Answer an ask with an error: the asker's future fails with @p code.
 * @param code a negative code.
 * @return 0; AX_EINVAL (NULL, not an ask, @p code >= 0); AX_EALREADY.
 */
AX_EXTERN int ax_reply_error(ax_msg *m, int code);

/**
 * Monitor @p target: the calling actor gets one AX_MSG_DOWN message when it
 * ends (at once, with reason AX_ESRCH, if it already has).
 * @return 0; AX_EINVAL for a null ref; AX_ENOTACTOR; AX_ENOMEM.
 */
AX_EXTERN int ax_monitor(ax_actor_ref target);

/**
 * Link the calling actor and @p target (see the header text).
 * @return 0; AX_EINVAL (null ref, linking to yourself); AX_ENOTACTOR;
 *         AX_ESRCH if @p target has ended (nothing is linked); AX_ENOMEM.
 */
AX_EXTERN int ax_link(ax_actor_ref target);

/**
 * Send @p target an exit signal (Erlang's exit/2): if it traps exits it
 * gets an AX_MSG_EXIT message with `from` the caller (AX_ACTOR_NONE
 * outside an actor) and @p reason; otherwise it is cancelled and ends
 * with @p reason (unless it fails with its own code).
 * @param reason a negative code (AX_ESHUTDOWN for an orderly stop).
 * @return 0 (for an actor of another loop: the signal was posted);
 *         AX_EINVAL (null ref, @p reason >= 0); AX_ESRCH if @p target
 *         has ended; AX_EPERM outside a loop; AX_ENOMEM.
 * Suspends: no. Thread: any loop thread of the runtime.
 */
AX_EXTERN int ax_actor_exit(ax_actor_ref target, int reason);

/**
 * Kill @p target: cancel it even if it traps exits; it ends with
 * @p reason. Tasks are cooperative: the kill takes effect at the
 * target's current or next suspension, and a target that keeps running
 * after it saw AX_ECANCELED is not stopped.
 * @return as ax_actor_exit().
 * Suspends: no. Thread: any loop thread of the runtime.
 */
AX_EXTERN int ax_actor_kill(ax_actor_ref target, int reason);

/**
 * Give @p ref a name, runtime-wide.
 * @return 0; AX_EINVAL (NULL or empty name, longer than 63 bytes, null
 *         ref); AX_EALREADY if the name is taken by a live actor; AX_EPERM
 *         outside a loop; AX_ENOMEM. A name whose actor has ended is free
 *         again.
 */
AX_EXTERN int ax_register(const char *name, ax_actor_ref ref);

/** Remove a name. @return 0; AX_ESRCH if unknown; AX_EINVAL. */
AX_EXTERN int ax_unregister(const char *name);

/**
 * Look a name up.
 * @return 0 and *out; AX_ESRCH if unknown or its actor has ended;
 *         AX_EINVAL.
 */
AX_EXTERN int ax_whereis(const char *name, ax_actor_ref *out);

/** Whether @p ref names a live actor right now (the answer can be stale by
 *  the time the caller acts on it). */
AX_EXTERN bool ax_actor_alive(ax_actor_ref ref);

/**
 * The undelivered hook: called for every message that ax_send() accepted
 * but that could not be delivered (the actor ended, the runtime stopped),
 * on the loop that finds out (during ax_run()'s teardown: the thread that
 * called ax_run()), so the payload can be freed. @p reason is AX_ESRCH or
 * AX_ESHUTDOWN. It must not suspend.
 */
typedef void (*ax_undelivered_fn)(int tag, void *data, int reason);

/**
 * Set the runtime's undelivered hook (NULL: none; the messages are still
 * counted, see ax_actor_stats). Set it before sending, usually first thing
 * in the main task; it stays until ax_run() returns.
 * @return 0; AX_EPERM outside a loop; AX_ENOMEM.
 * Thread: any loop thread of the runtime. Suspends: no.
 */
AX_EXTERN int ax_actor_set_undelivered(ax_undelivered_fn fn);

/**
 * The reply-dropped hook: called with the value of every successful
 * ax_reply() that nobody will read (the ask's future was freed, cancelled
 * or had timed out when the reply arrived), so the value can be freed. It
 * runs on the asker's loop (during ax_run()'s teardown: the thread that
 * called ax_run()) and must not suspend. Not called for ax_reply_error()
 * or for asks failed by axon (AX_ESRCH, AX_ESHUTDOWN), which carry no
 * value.
 */
typedef void (*ax_reply_dropped_fn)(void *value);

/**
 * Set the runtime's reply-dropped hook (NULL: none; dropped replies are
 * still counted in ax_actor_stats.replies_dropped). Set it before asking;
 * it stays until ax_run() returns.
 * @return 0; AX_EPERM outside a loop; AX_ENOMEM.
 * Thread: any loop thread of the runtime. Suspends: no.
 */
AX_EXTERN int ax_actor_set_reply_dropped(ax_reply_dropped_fn fn);

/** The runtime's message counters, for tests and benchmarks. Every
 *  accepted message ends up delivered or undelivered. */
typedef struct ax_actor_stats {
    uint64_t msgs_accepted;    /**< ax_send/ax_try_send/ax_ask returned 0 */
    uint64_t msgs_delivered;   /**< taken by ax_recv */
    uint64_t msgs_undelivered; /**< handed to the undelivered hook */
    uint64_t replies_dropped;  /**< answers to an asker that had given up
                                    (freed, cancelled, timed out) */
} ax_actor_stats;

/**
 * Read the counters summed over every loop (a consistent snapshot only
 * when the runtime is quiet). All zero if no actor call was made yet.
 * @return 0; AX_EINVAL for NULL; AX_EPERM outside a loop.
 * Thread: any loop thread of the runtime. Suspends: no.
 */
AX_EXTERN int ax_actor_stats_get(ax_actor_stats *st);

#ifdef __cplusplus
}
#endif
#endif
