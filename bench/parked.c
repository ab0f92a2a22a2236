/* SPDX-License-Identifier: MIT */
/*
 * parked: what a task that waits costs in memory, and how fast many waiting
 * tasks are created and cancelled.
 *
 *   usage: parked [count [stack_kib]]   (default 100,000 tasks and the
 *                                        default stack, AX_DEFAULT_STACK_SIZE)
 *
 * The main task spawns `count` tasks that each ax_sleep(3600) on the real
 * clock, then yields until every one has started and suspended. With all
 * of them parked it reads VmRSS and VmSize from /proc/self/status and
 * prints the totals and the growth per task over the figures read just
 * before spawning (the handle array is allocated and touched before that,
 * so it is not counted). Then it cancels every task and awaits them all
 * (each ends as AX_ECANCELED), timing both.
 *
 * What the RSS per task holds: the pages of its stack that were actually
 * touched (the top page or two; the rest of the stack is reserved address
 * space, visible in VmSize), the task structure, its timer and the loop's
 * bookkeeping. Not included: anything freed before the measurement.
 *
 * Each stack is an mmap with a guard page, i.e. two kernel memory maps, and
 * vm.max_map_count (65530 by default) caps the number of maps; past it the
 * loop hands out stacks without a guard page and counts them in
 * ax_loop_stats.stacks_unguarded, which is printed. If ax_spawn() fails
 * even so, the program says at which task and measures the ones it got.
 * For 1,000,000 guarded stacks: sysctl -w vm.max_map_count=2200000 (root).
 *
 * Nothing is asserted; the program exits 0 unless axon reports an error.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define BENCH_NAME "parked"
#include "bench.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t count = 100000;
static size_t stack_size; /* 0: the loop's default */
static uint64_t started;  /* tasks that have reached their sleep */

/* A field of /proc/self/status ("VmRSS:") in KiB, or -1. */
static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, key, k) == 0) {
            v = strtol(line + k, NULL, 10);
            break;
        }
    if (f != NULL)
        fclose(f);
    return v;
}

static long read_long_file(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f != NULL) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

static void *parked(void *arg)
{
    (void)arg;
    started++;
    int rc = ax_sleep(3600);
    /* Cancelled (the expected way out) or, an hour later, done. */
    return rc == 0 || rc == AX_ECANCELED ? NULL : ax_task_fail(rc);
}

static void print_stats(const char *when)
{
    ax_loop_stats st;
    int rc = ax_loop_stats_get(&st);
    if (rc != 0)
        die("ax_loop_stats_get", rc);
    printf("  stats %-14s tasks live %" PRIu64 ", stacks mapped %" PRIu64
           " (pooled %" PRIu64 ", unguarded %" PRIu64 ")\n",
           when, st.tasks_live, st.stacks_mapped, st.stacks_pooled,
           st.stacks_unguarded);
}

static void *bench(void *arg)
{
    (void)arg;
    ax_task **tasks = malloc(count * sizeof *tasks);
    if (tasks == NULL)
        die("malloc", AX_ENOMEM);
    memset(tasks, 0xff, count * sizeof *tasks); /* make it resident now */

    long rss0 = status_kib("VmRSS:"), vsz0 = status_kib("VmSize:");
    int64_t t0 = mono_ns();
    uint64_t n = 0;
    for (; n < count; n++) {
        int rc = ax_spawn_with(&tasks[n], parked, NULL, bench_task_opts());
        if (rc != 0) { /* measure what we got, then clean up */
            printf("ax_spawn failed    at task #%" PRIu64 ": %s (%s)\n",
                   n + 1, ax_err_name(rc), ax_strerror(rc));
            break;
        }
    }
    int64_t t1 = mono_ns();
    while (started < n) {
        int rc = ax_yield(); /* the parked tasks run while we yield */
        if (rc != 0)
            die("ax_yield", rc);
    }
    int64_t t2 = mono_ns();
    long rss1 = status_kib("VmRSS:"), vsz1 = status_kib("VmSize:");

    printf("parked tasks       %" PRIu64 "\n", n);
    printf("spawn              %.3f s (%.0f ns/task)\n",
           (double)(t1 - t0) / 1e9, n ? (double)(t1 - t0) / (double)n : 0.0);
    printf("start and park     %.3f s (%.0f ns/task)\n",
           (double)(t2 - t1) / 1e9, n ? (double)(t2 - t1) / (double)n : 0.0);
    printf("VmRSS              %ld KiB before, %ld KiB parked: "
           "%.0f bytes per task\n",
           rss0, rss1, n ? (double)(rss1 - rss0) * 1024.0 / (double)n : 0.0);
    printf("VmSize             %ld KiB before, %ld KiB parked: "
           "%.0f bytes per task\n",
           vsz0, vsz1, n ? (double)(vsz1 - vsz0) * 1024.0 / (double)n : 0.0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), stack = stack_size;
    if (stack == 0)
        stack = AX_DEFAULT_STACK_SIZE;
    if (stack < AX_MIN_STACK_SIZE)
        stack = AX_MIN_STACK_SIZE;
    stack = (stack + page - 1) / page * page; /* as task.h rounds it */
    printf("stack size         %zu bytes + a %zu-byte guard page (%s)\n",
           stack, page, stack_size ? "requested" : "the default");
    printf("vm.max_map_count   %ld\n",
           read_long_file("/proc/sys/vm/max_map_count"));
    print_stats("parked:");

    int64_t t3 = mono_ns();
    for (uint64_t i = 0; i < n; i++) {
        int rc = ax_cancel(tasks[i]);
        if (rc != 0)
            die("ax_cancel", rc);
    }
    int64_t t4 = mono_ns();
    uint64_t cancelled = 0, other = 0;
    for (uint64_t i = 0; i < n; i++) {
        int rc = ax_await(tasks[i], NULL);
        if (rc == AX_ECANCELED)
            cancelled++;
        else
            other++;
    }
    int64_t t5 = mono_ns();
    printf("cancel             %.3f s (%.0f ns/task)\n",
           (double)(t4 - t3) / 1e9, n ? (double)(t4 - t3) / (double)n : 0.0);
    printf("await cancelled    %.3f s (%.0f ns/task): %" PRIu64
           " cancelled, %" PRIu64 " other\n",
           (double)(t5 - t4) / 1e9, n ? (double)(t5 - t4) / (double)n : 0.0,
           cancelled, other);
    print_stats("after:");
    printf("VmRSS after        %ld KiB\n", status_kib("VmRSS:"));
    /* Machine-readable: RSS growth per parked task. */
    if (n > 0)
        printf("RESULT parked_memory %s %.6g bytes/task lower\n",
               sysname(), (double)(rss1 - rss0) * 1024.0 / (double)n);
    free(tasks);
    return NULL;
}

static int parse(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t kib = 0;
    if (argc > 3 || (argc >= 2 && parse(argv[1], &count) != 0) ||
        (argc == 3 && (parse(argv[2], &kib) != 0 || kib > 1024 * 1024))) {
        fprintf(stderr, "usage: %s [count [stack_kib]]\n", argv[0]);
        return 2;
    }
    stack_size = (size_t)kib * 1024;
    setvbuf(stdout, NULL, _IOLBF, 0); /* in order with axon's stderr */
    printf("%s\n", ax_build_info());
    if (getenv("AX_VIRTUAL_CLOCK") != NULL) {
        printf("(AX_VIRTUAL_CLOCK ignored: benchmarks use the real clock)\n");
        unsetenv("AX_VIRTUAL_CLOCK");
    }

    ax_opts opts = {.stack_size = stack_size};
    int rc = ax_run_with(&opts, bench, NULL, NULL);
    if (rc != 0)
        die("ax_run_with", rc);
    return 0;
}
