/* SPDX-License-Identifier: MIT */
/*
 * check_ioset.c: the loop's own epoll set for descriptors (framework/wait.c;
 * configure --disable-epoll gives every descriptor a libevent event
 * instead, and these cases must pass on both).
 *
 * - many sockets ready at once (more than one epoll_wait batch of 64);
 * - a socket closed while an edge of it waits in the kernel, with a copy
 *   of its descriptor alive (as in a forked child): the edge must not be
 *   handed out with the freed socket (ASan and valgrind see it);
 * - the busy scheduler (a task that only yields; with and without other
 *   events in libevent) and the virtual clock (a task asleep) still see
 *   socket edges without blocking;
 * - deadlock detection: it fires when nothing can come once every socket
 *   is closed, and not while a task waits to read a socket;
 * - the set's descriptor is closed when the runtime ends (no descriptor
 *   more after two runs) and close-on-exec, and a child process does not
 *   inherit it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_ioset_suite(void);

/* Two batches and a half (wait.c fetches 64 edges per epoll_wait); 2 x N
 * descriptors, under the usual limit of 1024. */
#define NSOCK 160

/* A socketpair: *s the loop's end, wrapped; *peer the raw other end. */
static void pair(ax_sock **s, int *peer)
{
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                     0);
    axt_assert_rc(ax_sock_wrap(sv[0], s), 0);
    *peer = sv[1];
}

/* The number of open descriptors, and how many of them are epoll sets
 * (*nep) of which how many lack close-on-exec (*nexec). */
static int count_fds(int *nep, int *nexec)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    if (nep)
        *nep = 0;
    if (nexec)
        *nexec = 0;
    while ((e = readdir(d))) {
        char path[300], link[256];
        ssize_t len;
        int fd;

        if (e->d_name[0] == '.')
            continue;
        fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        n++;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        len = readlink(path, link, sizeof link - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        if (!strstr(link, "eventpoll"))
            continue;
        if (nep)
            ++*nep;
        if (nexec && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            ++*nexec;
    }
    closedir(d);
    return n;
}

/* ---- many edges in one round --------------------------------------------- */

typedef struct reader {
    ax_sock *s;
    int peer;
    char got;
} reader;

static void *read_one(void *arg)
{
    reader *r = arg;
    char c = 0;

    axt_assert_rc((int)ax_read(r->s, &c, 1, -1), 1);
    r->got = c;
    return NULL;
}

static void *main_batch(void *arg)
{
    reader *r = calloc(NSOCK, sizeof *r);
    ax_task **t = calloc(NSOCK, sizeof *t);

    (void)arg;
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < NSOCK; i++) {
        pair(&r[i].s, &r[i].peer);
        axt_spawn(&t[i], read_one, &r[i]);
    }
    /* Every reader runs to its wait (its recv() said EAGAIN)... */
    axt_assert_rc(ax_yield(), 0);
    for (int i = 0; i < NSOCK; i++)
        ck_assert_int_eq(r[i].got, 0);
    /* ... then every socket becomes readable before the loop polls. */
    for (int i = 0; i < NSOCK; i++) {
        char c = (char)('A' + i % 26);
        ck_assert_int_eq(write(r[i].peer, &c, 1), 1);
    }
    for (int i = 0; i < NSOCK; i++) {
        axt_await_task(t[i], 0);
        ck_assert_int_eq(r[i].got, 'A' + i % 26);
        axt_assert_rc(ax_close(r[i].s), 0);
        close(r[i].peer);
    }
    free(t);
    free(r);
    return NULL;
}

START_TEST(test_batch)
{
    AXT_RUN_CLEAN(main_batch, NULL, NULL);
}
END_TEST

/* Half the sockets wait to read, the other half's edges come with no
 * waiter: all of them in the same rounds. */
static void *main_batch_mixed(void *arg)
{
    reader *r = calloc(NSOCK, sizeof *r);
    ax_task **t = calloc(NSOCK, sizeof *t);

    (void)arg;
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < NSOCK; i++) {
        pair(&r[i].s, &r[i].peer);
        if (i % 2)
            axt_spawn(&t[i], read_one, &r[i]);
    }
    axt_assert_rc(ax_yield(), 0);
    for (int i = 0; i < NSOCK; i++)
        ck_assert_int_eq(write(r[i].peer, "x", 1), 1);
    for (int i = 0; i < NSOCK; i++) {
        if (i % 2) {
            axt_await_task(t[i], 0);
            ck_assert_int_eq(r[i].got, 'x');
        } else {
            char c = 0;
            axt_assert_rc((int)ax_read(r[i].s, &c, 1, 0), 1);
            ck_assert_int_eq(c, 'x');
        }
        axt_assert_rc(ax_close(r[i].s), 0);
        close(r[i].peer);
    }
    free(t);
    free(r);
    return NULL;
}

START_TEST(test_batch_mixed)
{
    AXT_RUN_CLEAN(main_batch_mixed, NULL, NULL);
}
END_TEST

/* ---- closed with an edge pending ----------------------------------------- */

/* b's edge is in the kernel's ready list when b is closed, and a copy of
 * its descriptor keeps the open file (and so any registration of it)
 * alive: unless closing took b out of the set first, the loop's next poll
 * (for a's edge) hands that edge out with the freed socket. */
static void *main_close_pending(void *arg)
{
    ax_sock *a, *b, *c[8];
    int pa, pb, pc[8], dupb;
    char ch = 0;

    (void)arg;
    pair(&a, &pa);
    pair(&b, &pb);
    dupb = dup(ax_sock_fd(b));
    ck_assert_int_ge(dupb, 0);
    ck_assert_int_eq(write(pb, "b", 1), 1);
    axt_assert_rc(ax_close(b), 0);
    /* The freed memory is likely taken again by sockets of the same size:
     * a stale edge would then land on one of them. */
    for (int i = 0; i < 8; i++)
        pair(&c[i], &pc[i]);
    ck_assert_int_eq(write(pa, "a", 1), 1);
    axt_assert_rc(ax_sock_wait_dl(a, AX_SOCK_READABLE, -1), 0);
    axt_assert_rc((int)ax_read(a, &ch, 1, -1), 1);
    ck_assert_int_eq(ch, 'a');
    /* Another round of polling, with a real wait in it. */
    ck_assert_int_eq(write(pa, "A", 1), 1);
    axt_assert_rc(ax_sock_wait_dl(a, AX_SOCK_READABLE, -1), 0);
    axt_assert_rc((int)ax_read(a, &ch, 1, -1), 1);
    ck_assert_int_eq(ch, 'A');
    for (int i = 0; i < 8; i++) {
        axt_assert_rc((int)ax_read(c[i], &ch, 1, 0), AX_ETIMEDOUT);
        axt_assert_rc(ax_close(c[i]), 0);
        close(pc[i]);
    }
    axt_assert_rc(ax_close(a), 0);
    close(pa);
    close(pb);
    close(dupb);
    return NULL;
}

START_TEST(test_close_pending)
{
    AXT_RUN_CLEAN(main_close_pending, NULL, NULL);
}
END_TEST

/* ---- the busy scheduler and the virtual clock ---------------------------- */

/* The main task only yields: the loop never blocks, so the reader's edge
 * comes only through the scheduler's poll every few busy rounds. */
static void *main_busy(void *arg)
{
    reader r = {0};
    ax_task *t;
    unsigned rounds = 0;

    /* With events of its own in libevent (the stop signals' here) the
     * loop polls libevent, which must reach the set. */
    if (arg)
        axt_assert_rc(ax_stop_on_signals(), 0);
    pair(&r.s, &r.peer);
    axt_spawn(&t, read_one, &r);
    axt_assert_rc(ax_yield(), 0);
    ck_assert_int_eq(write(r.peer, "y", 1), 1);
    while (!r.got) {
        axt_assert_rc(ax_yield(), 0);
        ck_assert_uint_lt(++rounds, 100000);
    }
    ck_assert_int_eq(r.got, 'y');
    axt_await_task(t, 0);
    axt_assert_rc(ax_close(r.s), 0);
    close(r.peer);
    return NULL;
}

START_TEST(test_busy_poll)
{
    AXT_RUN_CLEAN(main_busy, NULL, NULL);
}
END_TEST

START_TEST(test_busy_poll_libevent)
{
    AXT_RUN_CLEAN(main_busy, AXT_P(1), NULL);
}
END_TEST

/* Under the virtual clock a sleeping loop polls its descriptors before it
 * jumps to the next deadline: an edge already there wakes the reader
 * before the sleeper's deadline comes. */
static void *main_virtual(void *arg)
{
    reader r = {0};
    ax_task *t;

    (void)arg;
    pair(&r.s, &r.peer);
    axt_spawn(&t, read_one, &r);
    axt_assert_rc(ax_yield(), 0);
    ck_assert_int_eq(write(r.peer, "v", 1), 1);
    axt_assert_rc(ax_sleep(1000), 0);
    ck_assert_int_eq(r.got, 'v');
    axt_await_task(t, 0);
    axt_assert_rc(ax_close(r.s), 0);
    close(r.peer);
    return NULL;
}

START_TEST(test_virtual_clock)
{
    AXT_RUN_CLEAN(main_virtual, NULL, NULL);
}
END_TEST

/* ---- deadlock detection -------------------------------------------------- */

/* Sockets came and went: with none left, nothing can complete the future,
 * and the loop says so (were the set's own event counted as the
 * application's, the loop would block for ever). */
static void *main_deadlock(void *arg)
{
    ax_future *f;
    ax_sock *s;
    int peer;

    (void)arg;
    for (int i = 0; i < 3; i++) {
        pair(&s, &peer);
        axt_assert_rc(ax_close(s), 0);
        close(peer);
    }
    axt_assert_rc(ax_future_new(&f), 0);
    axt_assert_rc(ax_await(f, NULL), AX_ECANCELED);
    ax_future_free(f);
    return NULL;
}

START_TEST(test_deadlock_without_sockets)
{
    axt_assert_rc(ax_test_run(main_deadlock, NULL, NULL), AX_EDEADLK);
    AXT_ASSERT_REPORT_HAS("deadlock");
}
END_TEST

static void *late_writer(void *arg)
{
    struct timespec ts = {0, 50 * 1000 * 1000};

    nanosleep(&ts, NULL);
    ck_assert_int_eq(write((int)AXT_I(arg), "w", 1), 1);
    return NULL;
}

/* A task waits to read a socket that another thread writes to later:
 * the loop must block for it, not call it a deadlock. */
static void *main_no_deadlock(void *arg)
{
    ax_sock *s;
    pthread_t th;
    char c = 0;
    int peer;

    (void)arg;
    pair(&s, &peer);
    ck_assert_int_eq(pthread_create(&th, NULL, late_writer, AXT_P(peer)), 0);
    axt_assert_rc((int)ax_read(s, &c, 1, -1), 1);
    ck_assert_int_eq(c, 'w');
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    axt_assert_rc(ax_close(s), 0);
    close(peer);
    return NULL;
}

START_TEST(test_no_deadlock_while_reading)
{
    AXT_RUN_CLEAN(main_no_deadlock, NULL, NULL);
}
END_TEST

/* ---- the set's descriptor ------------------------------------------------ */

static void *main_fds(void *arg)
{
    int *nep = arg, nexec;
    ax_sock *s;
    int peer;

    pair(&s, &peer);
    ck_assert_int_eq(write(peer, "z", 1), 1);
    axt_assert_rc(ax_sock_wait_dl(s, AX_SOCK_READABLE, -1), 0);
    count_fds(nep, &nexec);
    ck_assert_int_eq(nexec, 0);
    axt_assert_rc(ax_close(s), 0);
    close(peer);
    return NULL;
}

/* Two runtimes one after the other, each with a socket: afterwards no
 * epoll set is left, nor any other descriptor; while they ran every set
 * was close-on-exec. */
START_TEST(test_fds_closed)
{
    int before = count_fds(NULL, NULL), nep = 0, after, aep;

    for (int run = 0; run < 2; run++)
        AXT_RUN_CLEAN(main_fds, &nep, NULL);
    ck_assert_int_ge(nep, 1);
    after = count_fds(&aep, NULL);
    ck_assert_int_eq(aep, 0);
    ck_assert_int_eq(after, before);
}
END_TEST

/* A child lists its descriptors: none is an epoll set. */
static void *main_child(void *arg)
{
    const char *argv[] = {"ls", "-l", "/proc/self/fd/", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_NULL, AX_STDIO_PIPE,
                                   AX_STDIO_INHERIT}};
    static char buf[16384];
    ax_process *p;
    ax_sock *s;
    size_t n = 0;
    ssize_t r;
    int peer, st = -1;

    (void)arg;
    pair(&s, &peer);
    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    while ((r = ax_read(ax_process_pipe(p, 1), buf + n, sizeof buf - 1 - n,
                        30)) > 0)
        n += (size_t)r;
    axt_assert_rc((int)r, 0);
    buf[n] = '\0';
    axt_assert_rc(ax_process_wait(p, &st, 30), 0);
    axt_assert_rc(ax_process_free(p), 0);
    ck_assert_msg(n > 0, "ls printed nothing");
    ck_assert_msg(!strstr(buf, "eventpoll"), "the child has an epoll set:\n%s",
                  buf);
    axt_assert_rc(ax_close(s), 0);
    close(peer);
    return NULL;
}

START_TEST(test_child_inherits_no_set)
{
    int rc = ax_test_run_real(main_child, NULL, NULL);

    ck_assert_msg(rc == 0, "ax_run: %s; report:\n%s", ax_err_name(rc),
                  ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

Suite *ax_ioset_suite(void)
{
    Suite *s = suite_create("ioset");
    TCase *tc = axt_tcase(s, "batch");

    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_batch_mixed);
    tcase_add_test(tc, test_close_pending);
    tc = axt_tcase(s, "sched");
    tcase_add_test(tc, test_busy_poll);
    tcase_add_test(tc, test_busy_poll_libevent);
    tcase_add_test(tc, test_virtual_clock);
    tcase_add_test(tc, test_deadlock_without_sockets);
    tcase_add_test(tc, test_no_deadlock_while_reading);
    tc = axt_tcase(s, "fd");
    tcase_add_test(tc, test_fds_closed);
    tcase_add_test(tc, test_child_inherits_no_set);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_ioset_suite());
}
#endif
