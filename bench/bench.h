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

/* The system name in RESULT lines: the context back-end is part of it. */
static inline const char *sysname(void)
{
    return strstr(ax_build_info(), "context=ucontext") ? "axon-ucontext"
                                                       : "axon";
}

#endif
