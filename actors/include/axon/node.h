/* SPDX-License-Identifier: MIT */
/**
 * @file axon/node.h
 * @brief Nodes: actors reachable from other processes and hosts through a
 *        NATS cluster (libaxon-nats, pkg-config module axon-nats).
 *
 * A node is one NATS connection living on one axon loop: the socket is
 * watched by that loop's event_base, and everything the node does for the
 * application (delivering to actors, completing asks, DOWN messages,
 * connection events) happens on that loop's thread. Several processes (or
 * runtimes) that connect to the same NATS server or cluster with the same
 * subject prefix form one system.
 *
 * Names. ax_node_register() puts a local actor under a global name: the
 * NATS subject `<prefix>.n.<name>`. Any node then reaches it by name with
 * ax_node_cast() (fire and forget), ax_node_send() (acknowledged when the
 * remote mailbox took it) or ax_node_ask()/ax_node_call() (request/reply).
 * Several actors, on any nodes, registered under one name with the same
 * queue group share its messages (each message goes to one of them: a
 * load-balanced worker pool); without a group each gets every message.
 *
 * Payloads are bytes. A remote send copies @p data into the NATS message
 * before the call returns (the caller keeps its buffer); the receiving
 * actor gets an ax_node_msg (tag, bytes) that it frees with
 * ax_node_msg_free(). Pointers mean nothing on another host: encode what
 * you send (ax_rec_put()/ax_rec_get() write and read length-prefixed
 * records, enough for most messages).
 *
 * Delivery, plainly: at most once (core NATS keeps nothing). A message is
 * delivered once or not at all; ax_node_cast() reports nothing after the
 * hand-over to the client library. ax_node_send() and ax_node_ask() report
 * what happened: 0 when the receiver's mailbox took the message (or the
 * reply came), AX_ENORESPONDERS at once when no actor is registered under
 * the name anywhere, the receiving node's refusal (AX_ESRCH: the actor
 * ended; AX_EAGAIN: its mailbox was full), or AX_ETIMEDOUT when nothing
 * came back in time. A timeout does not prove the message was lost: it
 * may have been delivered and its acknowledgement lost (a server failover
 * in between). Messages from one node to one name arrive in the order they
 * were sent while both stay connected; around a reconnect, messages the
 * client buffered while disconnected follow (libnats resends them), and
 * messages in flight in a server that died are lost.
 *
 * Monitors: ax_node_monitor() gives the calling actor one AX_MSG_DOWN
 * message (ax_send_down()) when the remote actor ends (reason: its exit
 * status), when its node closes (AX_ESHUTDOWN), when its node stops
 * sending heartbeats (AX_ENODEDOWN: crashed, or cut off from the cluster),
 * or at once when nobody serves the name (AX_ENORESPONDERS; AX_ETIMEDOUT
 * if the host did not answer the monitor request within 5 s or
 * heartbeat * heartbeat_misses, whichever is longer). Its data is a
 * malloc'd copy of the name (free() it).
 *
 * Connection state reaches the application as AX_MSG_NODE messages to
 * ax_node_opts.events_to and/or the ax_node_opts.on_event callback.
 *
 * A node needs the real clock (ax_opts.virtual_clock off): its timeouts
 * race real network traffic. Thread: every call is made on the node's
 * loop (the one that called ax_node_connect()), except ax_node_msg_*,
 * ax_node_reply*, ax_node_bytes_free and the record helpers, which work
 * on any thread.
 */
#ifndef AXON_NODE_H
#define AXON_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/actor.h"
#include "axon/common.h"
#include "axon/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to a NATS cluster, on one loop. */
typedef struct ax_node ax_node;

/** Tag of the connection-state messages sent to ax_node_opts.events_to;
 *  the message's data is the event (ax_node_event) cast to a pointer:
 *  `(int)(intptr_t)msg.data`. Nothing to free. */
#define AX_MSG_NODE (-4050)

/** Connection events. */
typedef enum ax_node_event {
    AX_NODE_CONNECTED = 1,    /**< ax_node_connect() succeeded */
    AX_NODE_DISCONNECTED = 2, /**< the server was lost; reconnecting */
    AX_NODE_RECONNECTED = 3,  /**< connected again (to any of the URLs) */
    AX_NODE_CLOSED = 4        /**< gave up reconnecting, or ax_node_close() */
} ax_node_event;

/** A connection-event callback: runs on the node's loop, must not
 *  suspend. */
typedef void (*ax_node_event_fn)(ax_node *node, int event, void *arg);

/** Node options. Zero-initialise, then set what you need. */
typedef struct ax_node_opts {
    const char *prefix;     /**< subject prefix; NULL: "axon" */
    const char *name;       /**< node id, unique in the cluster (also the
                                 NATS client name); NULL: a random one */
    double connect_timeout; /**< seconds for the first connect; 0: 2 */
    int max_reconnect;      /**< attempts per lost server; 0: 60,
                                 negative: forever */
    double reconnect_wait;  /**< seconds between rounds over the URLs,
                                 with jitter; 0: 0.5 */
    const char *user;       /**< credentials (NULL: none) */
    const char *password;
    const char *token;      /**< auth token (NULL: none) */
    const char *creds_file; /**< NATS .creds file (JWT + seed) */
    bool tls;               /**< require TLS (implied by the files below) */
    const char *ca_file;    /**< CA certificates to trust (PEM) */
    const char *cert_file;  /**< client certificate chain (PEM) */
    const char *key_file;   /**< its private key (PEM) */
    double heartbeat;       /**< seconds between presence heartbeats;
                                 0: 1 */
    int heartbeat_misses;   /**< heartbeats missed before a monitored
                                 node is declared down; 0: 3 */
    ax_actor_ref events_to; /**< gets AX_MSG_NODE messages (or none) */
    ax_node_event_fn on_event; /**< or NULL */
    void *on_event_arg;
} ax_node_opts;

/**
 * Connect to a NATS server or cluster and start the node on the current
 * loop. Blocks the loop's thread for the first connection's handshake
 * (libnats connects synchronously), at most connect_timeout per URL.
 * @param out  receives the node; close it with ax_node_close().
 * @param urls one or more server URLs separated by commas
 *             ("nats://127.0.0.1:4222,nats://10.0.0.2:4222"); all are
 *             tried on connect and on reconnect.
 * @param opts NULL or zero-initialised for the defaults.
 * @return 0; AX_EINVAL (NULL out or urls, an empty URL list, a prefix or
 *         name that is not a NATS subject token); AX_ENOTTASK outside a
 *         task; AX_ECONNREFUSED if no server answered; AX_ETIMEDOUT;
 *         AX_ENATS (libnats refused: bad credentials, TLS failure; the
 *         text goes to the report stream); AX_ENOMEM.
 * Suspends: no (it blocks, see above). Thread: a task on any loop.
 */
AX_EXTERN int ax_node_connect(ax_node **out, const char *urls,
                              const ax_node_opts *opts);

/**
 * Close the node: tell monitors of its registered actors (AX_ESHUTDOWN),
 * flush what was published to the server (bounded by 2 s), fail its
 * pending asks (AX_ESHUTDOWN), send its own monitors their DOWN
 * (AX_ESHUTDOWN), close the connection and free the node.
 * @return 0; AX_EINVAL for NULL; AX_EWRONGLOOP from another loop;
 *         AX_ENOTTASK outside a task; AX_ETIMEDOUT if the flush did not
 *         complete (the node is closed and freed all the same).
 * Suspends: yes. Thread: a task on the node's loop.
 */
AX_EXTERN int ax_node_close(ax_node *node);

/** This node's id (ax_node_opts.name or the generated one). */
AX_EXTERN const char *ax_node_id(const ax_node *node);

/**
 * Register @p ref under @p name across the cluster.
 * @param group NULL, or a queue group: every actor registered under the
 *              same name and group shares the name's messages.
 * @return 0; AX_EINVAL (NULL, null ref, a name that is empty, longer than
 *         128 bytes or not made of [A-Za-z0-9_-] tokens separated by
 *         dots, a group with a space); AX_EALREADY if this node already
 *         has the name; AX_ESHUTDOWN if the node is closing or closed;
 *         AX_ENATS; AX_ENOMEM. When the actor ends, its name is
 *         unregistered.
 * Suspends: no. Thread: the node's loop.
 */
AX_EXTERN int ax_node_register(ax_node *node, const char *name,
                               ax_actor_ref ref, const char *group);

/** Remove this node's registration of @p name (its monitors get DOWN
 *  with AX_ESRCH). @return 0; AX_ESRCH if not registered here;
 *  AX_EINVAL. Suspends: no. Thread: the node's loop. */
AX_EXTERN int ax_node_unregister(ax_node *node, const char *name);

/**
 * Publish (tag, data) to @p name and return: no acknowledgement, nothing
 * reported if it is not delivered.
 * @return 0 (handed to the client library); AX_EINVAL (NULL node or name,
 *         a bad name, NULL data with len > 0); AX_E2BIG if the message
 *         exceeds the server's max_payload; AX_ESHUTDOWN if the node is
 *         closing or closed; AX_ENATS; AX_ENOMEM.
 * Suspends: no. Thread: the node's loop.
 */
AX_EXTERN int ax_node_cast(ax_node *node, const char *name, int tag,
                           const void *data, size_t len);

/**
 * Send (tag, data) to @p name and wait until a receiving node says its
 * actor's mailbox took it.
 * @param timeout seconds (> 0).
 * @return 0 (accepted by the remote mailbox); AX_ENORESPONDERS if no actor
 *         serves the name; AX_ESRCH (the actor ended), AX_EAGAIN (its
 *         mailbox was full): refused by the receiving node; AX_ETIMEDOUT;
 *         AX_ECANCELED if the caller was cancelled; ax_node_cast()'s codes;
 *         AX_ENOTTASK outside a task.
 * Suspends: yes. Thread: a task on the node's loop.
 */
AX_EXTERN int ax_node_send(ax_node *node, const char *name, int tag,
                           const void *data, size_t len, double timeout);

/** A reply's bytes (also the value of an ask's future). */
typedef struct ax_node_bytes {
    const void *data; /**< the bytes (NUL-terminated for convenience) */
    size_t len;       /**< their number */
} ax_node_bytes;

/** Free a reply. NULL is ignored. Any thread. */
AX_EXTERN void ax_node_bytes_free(ax_node_bytes *b);

/**
 * Ask @p name: the request goes to one actor serving the name, which
 * answers with ax_node_reply(). *reply is a future of the node's loop
 * whose value is an ax_node_bytes * (yours: ax_node_bytes_free()); it
 * fails with AX_ENORESPONDERS, the replier's ax_node_reply_error() code,
 * AX_ESRCH (the actor ended, or freed the message without answering),
 * AX_EAGAIN (its mailbox was full), AX_ETIMEDOUT after @p timeout seconds,
 * or AX_ESHUTDOWN if the node closes first. It always completes, by the
 * timeout at the latest: await it, then free it with ax_future_free();
 * freeing it before it is done is a misuse (ax_node_call() has no such
 * rule).
 * @return 0; AX_EINVAL also for a NULL @p reply or a timeout <= 0, NaN or
 *         above 100 years; ax_node_cast()'s codes.
 * Suspends: no. Thread: the node's loop.
 */
AX_EXTERN int ax_node_ask(ax_node *node, const char *name, int tag,
                          const void *data, size_t len, double timeout,
                          ax_future **reply);

/**
 * ax_node_ask(), wait for the answer and free the future.
 * @param out receives the answer (yours: ax_node_bytes_free()); may be
 *            NULL (the answer is freed).
 * @return 0; the codes the future of ax_node_ask() fails with;
 *         AX_ECANCELED if the caller was cancelled; ax_node_ask()'s codes;
 *         AX_ENOTTASK outside a task.
 * Suspends: yes. Thread: a task on the node's loop.
 */
AX_EXTERN int ax_node_call(ax_node *node, const char *name, int tag,
                           const void *data, size_t len, double timeout,
                           ax_node_bytes **out);

/** What an actor registered on a node receives: the message's data is an
 *  ax_node_msg * that the actor owns; free it with ax_node_msg_free(). */
typedef struct ax_node_msg {
    int tag;          /**< the sender's tag */
    const void *data; /**< the payload bytes */
    size_t len;       /**< their number */
    bool wants_reply; /**< came from ax_node_ask()/ax_node_call() */
    void *priv_;      /**< private */
} ax_node_msg;

/**
 * Answer an ask with bytes (copied before the call returns).
 * @return 0; AX_EINVAL (NULL, not an ask, NULL data with len > 0);
 *         AX_EALREADY if answered already; AX_E2BIG over max_payload;
 *         AX_ENATS (the node's connection is closed). Any thread.
 */
AX_EXTERN int ax_node_reply(ax_node_msg *m, const void *data, size_t len);

/** Answer an ask with an error: the asker's future fails with @p code
 *  (negative). @return as ax_node_reply(); AX_EINVAL for code >= 0. */
AX_EXTERN int ax_node_reply_error(ax_node_msg *m, int code);

/** Free a received message. An ask not yet answered is answered with
 *  AX_ESRCH. NULL is ignored. Any thread. */
AX_EXTERN void ax_node_msg_free(ax_node_msg *m);

/**
 * Monitor the actor registered as @p name (one of them if a queue group
 * shares the name): the calling actor gets one AX_MSG_DOWN message (see
 * the header text).
 * @return 0; AX_EINVAL (NULL, bad name); AX_ENOTACTOR if the caller is
 *         not an actor; AX_ESHUTDOWN; AX_ENATS; AX_ENOMEM.
 * Suspends: no. Thread: an actor on the node's loop.
 */
AX_EXTERN int ax_node_monitor(ax_node *node, const char *name);

/** Tag of the message a stand-in (ax_node_sup_start()) casts to its
 *  remote worker when its supervisor stops it: a worker that should end
 *  with its stand-in ends on it. No bytes. */
#define AX_MSG_NODE_STOP (-4051)

/** Tag of the ask ax_node_sup_start() sends to a spawner: start a worker,
 *  register it under a name of its own, and answer with that name. No
 *  bytes. */
#define AX_MSG_NODE_SPAWN (-4052)

/** A remote worker under a supervisor: ax_sup_spec.arg of a spec whose
 *  start is ax_node_sup_start(). It must outlive the supervisor. */
typedef struct ax_node_remote {
    ax_node *node;       /**< the node the stand-in uses */
    const char *name;    /**< the worker's global name (one actor: a
                              queue group's name stands for one of its
                              members at a time); or NULL with spawner */
    const char *spawner; /**< NULL, or a name answering AX_MSG_NODE_SPAWN
                              asks: each (re)start asks it for a new
                              worker and stands in for the name it
                              answers */
    double timeout;      /**< seconds for the spawner's answer; 0: 5 */
} ax_node_remote;

/**
 * A supervisor start function (ax_sup_start_fn, <axon/supervisor.h>) for
 * a remote worker: supervisors supervise local actors, so this starts a
 * local stand-in actor on the node's loop that monitors the remote worker
 * (ax_node_monitor()) and ends with the DOWN's reason: 0 when the worker
 * ended normally, its exit code when it failed, AX_ENODEDOWN when its
 * node stopped answering heartbeats, AX_ESHUTDOWN when its node closed,
 * AX_ENORESPONDERS when nobody serves the name (a worker that ended
 * before the stand-in's monitor reached its node counts as gone). The
 * supervisor sees the stand-in end with that reason and restarts it per
 * its strategy and the spec's restart type; a restart asks the spawner
 * (ax_node_remote.spawner) for a new worker, or monitors the static name
 * again. When the supervisor stops the stand-in (a strategy, a
 * terminate, the supervisor's own stop), the stand-in casts
 * AX_MSG_NODE_STOP to its worker and ends: whether the worker ends is up
 * to it, and nothing waits for it. Delivery is what ax_node_monitor()
 * gives: one DOWN per stand-in, at most once; a worker that ends while
 * its node is cut off is reported AX_ENODEDOWN after heartbeat *
 * heartbeat_misses seconds, not with its own reason.
 * Stop the supervisor before closing the node.
 * @param out  receives the stand-in's ref.
 * @param arg  an ax_node_remote.
 * @param opts the spec's actor options (its loop must be the node's, or
 *             NULL).
 * @return 0; AX_EINVAL (NULL out or arg, no name nor spawner, a spawner
 *         answer that is not a valid name); AX_EWRONGLOOP if the
 *         supervisor or the spec's loop is not the node's; the spawner
 *         ask's codes (ax_node_call()); ax_actor_spawn()'s codes.
 * Suspends: yes (while the spawner answers). Thread: the supervisor, on
 * the node's loop.
 */
AX_EXTERN int ax_node_sup_start(ax_actor_ref *out, void *arg,
                                const ax_actor_opts *opts);

/** A node's counters. */
typedef struct ax_node_stats {
    uint64_t sent;        /**< casts, sends and asks handed to libnats */
    uint64_t delivered;   /**< messages given to local actors */
    uint64_t refused;     /**< messages for a local actor that had ended or
                               whose mailbox was full (sender told) */
    uint64_t garbage;     /**< messages on axon subjects that were not axon
                               frames (dropped; a request gets
                               AX_EBADFRAME back) */
    uint64_t late_replies; /**< replies after their ask timed out */
    uint64_t reconnects;  /**< AX_NODE_RECONNECTED events */
} ax_node_stats;

/** Read the counters. @return 0; AX_EINVAL. Thread: the node's loop. */
AX_EXTERN int ax_node_stats_get(const ax_node *node, ax_node_stats *st);

/** Whether the node is connected now (false while reconnecting). */
AX_EXTERN bool ax_node_connected(const ax_node *node);

/**
 * Append a length-prefixed record (4-byte big-endian length, then the
 * bytes) to the buffer *buf of *len bytes, growing it with realloc().
 * Start with *buf = NULL, *len = 0; free(*buf) when done.
 * @return 0; AX_EINVAL (NULL buf/len, NULL rec with n > 0, n > 4 GiB - 1);
 *         AX_ENOMEM (the buffer is unchanged). Any thread.
 */
AX_EXTERN int ax_rec_put(void **buf, size_t *len, const void *rec, size_t n);

/**
 * Read the record at *off in (buf, len) and advance *off past it.
 * @param rec receives a pointer into @p buf (no copy); @param n its length.
 * @return 0; AX_EPIPE at the end (*off == len); AX_EBADFRAME if the bytes
 *         at *off are not a whole record (truncated length or body);
 *         AX_EINVAL for NULL arguments. Any thread.
 */
AX_EXTERN int ax_rec_get(const void *buf, size_t len, size_t *off,
                         const void **rec, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
