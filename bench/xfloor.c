/* SPDX-License-Identifier: MIT */
/*
 * xfloor: the physical floor of a cross-core round trip, without axon.
 *
 *   usage: xfloor [count]   (default 1,000,000 round trips for the
 *                            spinning rows, count/10 for the sleeping ones)
 *
 * Two threads pinned to CPUs 0 and 1 (to one CPU for the `one core` row)
 * pass a token back and forth, `count` times:
 *  spin:    one C11 atomic int, each side spins (no system call) until the
 *           word says it is its turn. The cost of moving one cache line
 *           to the other core and back: the least any cross-loop round
 *           trip can cost.
 *  futex:   the same word, but a side that finds it is not its turn
 *           sleeps in FUTEX_WAIT and the other wakes it (FUTEX_WAKE): two
 *           sleeps and two wake-ups per round trip, what a loop that parks
 *           instead of spinning pays at the least.
 *  eventfd: a blocking read() on one eventfd per side, the other side
 *           write()s it: axon's doorbell without epoll in between.
 *  futex, one core: the futex row with both threads pinned to CPU 0 (two
 *           context switches per round trip, no cache line crossing): the
 *           kernel's price for what Go's scheduler does in user space when
 *           it keeps both goroutines of a ping-pong on one P.
 *
 * Figures: round trips per second and ns per round trip over the wall
 * time (CLOCK_MONOTONIC). On a shared machine the spinning rows suffer
 * most (a descheduled peer costs a whole time slice): read the load
 * average printed first. Nothing is asserted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define RELAX() __asm__ __volatile__("yield")
#else
#define RELAX() ((void)0)
#endif

enum mode { M_SPIN, M_FUTEX, M_EVENTFD };

typedef struct side {
    int cpu;
    int me; /* 0: pinger, 1: ponger */
} side;

static uint64_t count = 1000000;
static uint64_t rounds;
static enum mode mode;
static _Alignas(64) atomic_int word; /* whose turn: 0 pinger, 1 ponger */
static int efd[2];                   /* eventfd: [i] wakes side i */
static int64_t t0, t1;
static bool pinned = true;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0)
        pinned = false;
}

static void futex_wait(atomic_int *w, int val)
{
    syscall(SYS_futex, (int *)w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(atomic_int *w)
{
    syscall(SYS_futex, (int *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void wait_turn(int me)
{
    uint64_t v;

    switch (mode) {
    case M_SPIN:
        while (atomic_load_explicit(&word, memory_order_acquire) != me)
            RELAX();
        break;
    case M_FUTEX:
        while (atomic_load_explicit(&word, memory_order_acquire) != me)
            futex_wait(&word, !me);
        break;
    case M_EVENTFD:
        while (read(efd[me], &v, sizeof v) < 0 && errno == EINTR)
            ;
        break;
    }
}

static void give_turn(int to)
{
    uint64_t one = 1;

    switch (mode) {
    case M_SPIN:
        atomic_store_explicit(&word, to, memory_order_release);
        break;
    case M_FUTEX:
        atomic_store_explicit(&word, to, memory_order_release);
        futex_wake(&word);
        break;
    case M_EVENTFD:
        while (write(efd[to], &one, sizeof one) < 0 && errno == EINTR)
            ;
        break;
    }
}

static void *run_side(void *arg)
{
    side *s = arg;

    pin(s->cpu);
    if (s->me == 0) {
        /* Handshake: the ponger is up and pinned. */
        give_turn(1);
        wait_turn(0);
        t0 = mono_ns();
        for (uint64_t i = 0; i < rounds; i++) {
            give_turn(1);
            wait_turn(0);
        }
        t1 = mono_ns();
    } else {
        for (uint64_t i = 0; i <= rounds; i++) {
            wait_turn(1);
            give_turn(0);
        }
    }
    return NULL;
}

static void one(const char *label, enum mode m, uint64_t n, int cpu0,
                int cpu1)
{
    pthread_t th[2];
    side sd[2] = {{cpu0, 0}, {cpu1, 1}};

    mode = m;
    rounds = n;
    atomic_store(&word, 0);
    if (m == M_EVENTFD) {
        for (int i = 0; i < 2; i++) {
            efd[i] = eventfd(0, EFD_CLOEXEC);
            if (efd[i] < 0) {
                perror("eventfd");
                exit(1);
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, run_side, &sd[i]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    if (m == M_EVENTFD)
        for (int i = 0; i < 2; i++)
            close(efd[i]);
    double s = (double)(t1 - t0) / 1e9;
    printf("%-18s cpus %d,%d %9" PRIu64 " round trips %7.3f s %11.0f "
           "round trips/s %9.1f ns/round trip\n",
           label, cpu0, cpu1, n, s, (double)n / s,
           (double)(t1 - t0) / (double)n);
    printf("RESULT xfloor_%s floor %.6g round-trips/s higher\n", label,
           (double)n / s);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    double load[3] = {0, 0, 0};
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int other = ncpu >= 2 ? 1 : 0;

    if (argc > 2 || (argc == 2 && (argv[1][0] < '0' || argv[1][0] > '9'))) {
        fprintf(stderr, "usage: %s [count]\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        char *end;
        errno = 0;
        count = strtoull(argv[1], &end, 10);
        if (errno != 0 || *end != '\0' || count < 10) {
            fprintf(stderr, "xfloor: bad count '%s'\n", argv[1]);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("xfloor: %ld CPUs online, load average %.2f; %" PRIu64
           " spinning round trips, %" PRIu64 " sleeping ones\n",
           ncpu, load[0], count, count / 10);
    if (ncpu < 2)
        printf("(one CPU: every row runs on CPU 0)\n");
    if (ncpu >= 2) /* on one CPU a spinning side burns its whole slice */
        one("spin", M_SPIN, count, 0, other);
    one("futex", M_FUTEX, count / 10, 0, other);
    one("eventfd", M_EVENTFD, count / 10, 0, other);
    one("futex_one_core", M_FUTEX, count / 10, 0, 0);
    if (!pinned)
        printf("(sched_setaffinity failed: the threads ran unpinned)\n");
    return 0;
}
