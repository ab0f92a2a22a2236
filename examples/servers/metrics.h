/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: --metrics PORT for the example servers.
 *
 * srv_metrics_start() serves the runtime's statistics (ax_runtime_stats
 * and every loop's ax_loop_stats, as ax_stats_prometheus() prints them)
 * in Prometheus text format on GET /metrics, from a listener of its own
 * on 127.0.0.1 only, apart from the server's port. One request per
 * connection (Connection: close); any other path is 404, any other
 * method 405.
 */
#ifndef AX_EXAMPLES_METRICS_H
#define AX_EXAMPLES_METRICS_H

#include <axon.h>

/** The --metrics row of a server's option table: the port goes to
 *  *@p where (an int, -1 when the option is absent). */
#define SRV_METRICS_OPT(where)                                                \
    {.name = "metrics", .meta = "PORT", .kind = SRV_INT, .dst = (where),      \
     .min = 0, .max = 65535,                                                  \
     .help = "serve Prometheus metrics on http://127.0.0.1:PORT/metrics\n"  \
             "(0: any free port; printed on stderr)"}

/**
 * Start the metrics listener on 127.0.0.1:@p port, in a task of its own
 * on the calling loop, and print "PROG: metrics on
 * http://127.0.0.1:P/metrics" on stderr once it listens.
 * @param out  receives the task; give it to srv_metrics_stop().
 * @return 0, or a negative AX_E* code (the port is taken, ...), already
 *         reported on stderr.
 * Thread: a task. Suspends: until the listener is up or has failed.
 */
int srv_metrics_start(const char *prog, int port, ax_task **out);

/** Stop the listener that srv_metrics_start() started (NULL: nothing).
 *  Thread: the task that started it. Suspends: until it has stopped. */
void srv_metrics_stop(ax_task *t);

/**
 * Print every loop's tasks (ax_dump_tasks(), "PROG: loop I:" above each)
 * on stderr whenever the process gets SIGQUIT, as Go prints its
 * goroutines: `kill -QUIT PID` shows what a server that does not stop
 * waits for. A task of its own on the calling loop, started on loop 0
 * before anything else and left running through the stop, so that it
 * still answers while a stop hangs; the runtime cancels it when it ends.
 * @return 0, or a negative AX_E* code, already reported on stderr.
 * Thread: a task. Suspends: until SIGQUIT is caught.
 */
int srv_dump_on_sigquit(const char *prog);

#endif
