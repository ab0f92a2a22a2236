/* SPDX-License-Identifier: MIT */
/*
 * to_thread: ax_to_thread() round trips: one task hands a job to the
 * runtime's thread pool and waits for its result, N times in a row. The
 * job is one blocking system call, pread(2) of a byte of /dev/zero, the
 * same as the peers' (asyncio.to_thread(os.pread, ...), a Go goroutine
 * calling syscall.Pread), so that the figure is the cost of the trip:
 * submit, wake a pool thread, run, post the result to the caller's inbox,
 * resume the task. Prints figures, asserts nothing.
 *
 *   to_thread [count]      (200,000 round trips)
 */
#define BENCH_NAME "to_thread"
#include "bench.h"

#include <fcntl.h>
#include <unistd.h>

static long count = 200000;
static int zero_fd = -1;

static void *job(void *arg)
{
    char b;
    (void)arg;
    return pread(zero_fd, &b, 1, 0) == 1 ? (void *)&zero_fd : NULL;
}

static void *main_task(void *arg)
{
    void *r;
    int rc;
    (void)arg;

    /* The first call makes the pool: keep it out of the timing. */
    if ((rc = ax_to_thread(job, NULL, &r)))
        die("ax_to_thread", rc);
    int64_t t0 = mono_ns();
    for (long i = 0; i < count; i++) {
        if ((rc = ax_to_thread(job, NULL, &r)))
            die("ax_to_thread", rc);
        if (r != &zero_fd)
            die("pread", AX_EINVAL);
    }
    double s = (double)(mono_ns() - t0) / 1e9;
    printf("to_thread, %ld round trips (one pread(2) each), one task\n",
           count);
    printf("  %10.0f round trips/s, %.2f us each\n", (double)count / s,
           s * 1e6 / (double)count);
    printf("RESULT to_thread %s %.6g round-trips/s higher\n", sysname(),
           (double)count / s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        count = atol(argv[1]);
    if (count <= 0) {
        fprintf(stderr, "usage: to_thread [count]\n");
        return 2;
    }
    if ((zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC)) < 0) {
        perror("to_thread: /dev/zero");
        return 1;
    }
    int rc = ax_run(main_task, NULL, NULL) ? 1 : 0;
    close(zero_fd);
    return rc;
}
