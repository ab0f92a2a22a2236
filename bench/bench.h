/* SPDX-License-Identifier: MIT */
/*
 * What every axon benchmark program needs: a monotonic clock, a fatal
 * error that names the program, and the system name its RESULT lines carry
 * (bench/run tells the context back-ends apart by it). Define BENCH_NAME
 * (the program's name, a string literal) before including this.
 */
#ifndef AXON_BENCH_H
#define AXON_BENCH_H

#include <axon.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench.h"
#endif

static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void die(const char *what, int rc)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, ax_strerror(rc));
    exit(1);
}

/* AX_BENCH_SHARED=1 (parked, skynet, gather): the tasks the benchmark
 * parks run on their loop's shared stack (ax_task_opts.shared_stack), and
 * the RESULT lines name the system "axon-shared". */
static inline bool bench_shared(void)
{
    const char *e = getenv("AX_BENCH_SHARED");
    return e != NULL && strcmp(e, "1") == 0;
}

/* AX_BENCH_EAGER=1 (skynet): the same program with its children started
 * eagerly (ax_task_opts.eager), reported as the system "axon-eager". */
static inline bool bench_eager(void)
{
    const char *e = getenv("AX_BENCH_EAGER");
    return e != NULL && strcmp(e, "1") == 0;
}

/* The task options for those tasks: the variant's, or the defaults. */
static inline const ax_task_opts *bench_task_opts(void)
{
    static ax_task_opts shared = {.shared_stack = true};
    static ax_task_opts eager = {.eager = true};
    return bench_shared() ? &shared : bench_eager() ? &eager : NULL;
}

/* The system name in RESULT lines: the context back-end is part of it. */
static inline const char *sysname(void)
{
    bool uc = strstr(ax_build_info(), "context=ucontext") != NULL;

    if (bench_shared())
        return uc ? "axon-ucontext-shared" : "axon-shared";
    if (bench_eager())
        return uc ? "axon-ucontext-eager" : "axon-eager";
    return uc ? "axon-ucontext" : "axon";
}

#endif
