/* SPDX-License-Identifier: MIT */
/* check_signal.c: tests for axon/signal.h, and for the second stop signal
 * of ax_stop_on_signals() (runtime.h) that ends the process. */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_signal_suite(void);

/* Signals come from plain threads, as a terminal's would (a handler on a
 * task's stack confuses valgrind: see check_runtime.c). */
static int run_real(int loops, ax_task_fn fn, void *arg)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.loops = loops;
    unsetenv("AX_VIRTUAL_CLOCK");
    return ax_test_run_with(&o, fn, arg, NULL);
}

static atomic_int woken;

static void *sig_waiter(void *arg)
{
    int rc = ax_signal_wait((int)AXT_I(arg), -1);
    if (rc)
        return ax_task_fail(rc);
    atomic_fetch_add(&woken, 1);
    return NULL;
}

typedef struct raiser {
    int sig;
    int want; /* raise until this many waiters woke */
} raiser;

static void *raise_until_woken(void *arg)
{
    raiser *r = arg;
    /* The waiters register by message; a signal before that is dropped
     * (the number is caught already), so raise until they have woken. */
    for (int i = 0; i < 20000 && atomic_load(&woken) < r->want; i++) {
        raise(r->sig);
        usleep(500);
    }
    return NULL;
}

static void *main_two_loops(void *arg)
{
    ax_task *a, *b;
    pthread_t th;
    raiser r = {SIGUSR1, 2};
    (void)arg;
    /* timeout 0: starts catching SIGUSR1 before anyone waits */
    axt_assert_rc(ax_signal_wait(SIGUSR1, 0), AX_ETIMEDOUT);
    axt_spawn(&a, sig_waiter, AXT_P(SIGUSR1));
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &b, sig_waiter, AXT_P(SIGUSR1)),
                  0);
    ck_assert_int_eq(pthread_create(&th, NULL, raise_until_woken, &r), 0);
    axt_await_task(a, 0);
    axt_await_task(b, 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(atomic_load(&woken), 2);
    return NULL;
}

/* One SIGUSR1 wakes the waiters of loop 0 and loop 1 alike; the signals
 * raised after they woke are caught and dropped (the process lives). */
START_TEST(test_signal_wait_wakes_waiters_on_two_loops)
{
    int rc = run_real(2, main_two_loops, NULL);
    ck_assert_msg(rc == 0, "ax_run: %s\n%s", ax_err_name(rc),
                  ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

static void *main_one_loop(void *arg)
{
    pthread_t th;
    raiser r = {SIGUSR2, 1};
    (void)arg;
    /* SIGUSR2 before the catcher would end the process: timeout 0 first */
    axt_assert_rc(ax_signal_wait(SIGUSR2, 0), AX_ETIMEDOUT);
    ck_assert_int_eq(pthread_create(&th, NULL, raise_until_woken, &r), 0);
    /* Nothing else can wake it: the catcher must keep the loop from
     * declaring a deadlock. */
    axt_assert_rc(ax_signal_wait(SIGUSR2, -1), 0);
    atomic_fetch_add(&woken, 1);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    return NULL;
}

/* A single loop whose only task waits for a signal is not deadlocked. */
START_TEST(test_signal_wait_single_loop)
{
    int rc = run_real(1, main_one_loop, NULL);
    ck_assert_msg(rc == 0, "ax_run: %s\n%s", ax_err_name(rc),
                  ax_test_report());
    AXT_ASSERT_CLEAN();
}
END_TEST

/* The loops share one virtual time: on loop 1 it starts where loop 0
 * left it (0.75 s), so the waits are measured from the task's start. */
static void *wait_usr2_timeout(void *arg)
{
    double t0 = ax_now();

    (void)arg;
    axt_assert_rc(ax_signal_wait(SIGUSR2, 0.5), AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), t0 + 0.5);
    axt_assert_rc(ax_signal_wait_dl(SIGUSR2, ax_deadline_in(0.25)),
                  AX_ETIMEDOUT);
    ck_assert_double_eq(ax_now(), t0 + 0.75);
    return NULL;
}

static void *main_timeouts(void *arg)
{
    ax_task *t;
    (void)arg;
    wait_usr2_timeout(NULL);
    ck_assert_double_eq(ax_now(), 0.75);
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &t, wait_usr2_timeout, NULL),
                  0);
    axt_await_task(t, 0);
    ck_assert_double_eq(ax_now(), 1.5);
    return NULL;
}

/* Timeouts and deadlines on loop 0 and on loop 1 (the registration on
 * loop 0 is withdrawn: the run ends clean). */
START_TEST(test_signal_wait_timeout)
{
    AXT_RUN_LOOPS_CLEAN(2, main_timeouts, NULL);
}
END_TEST

static void *main_cancel(void *arg)
{
    ax_task *a, *b;
    (void)arg;
    axt_spawn(&a, sig_waiter, AXT_P(SIGUSR2));
    axt_assert_rc(axt_spawn_on(ax_loop_at(1), &b, sig_waiter, AXT_P(SIGUSR2)),
                  0);
    axt_assert_rc(ax_sleep(1), 0);
    axt_assert_rc(ax_cancel(a), 0);
    axt_assert_rc(ax_cancel(b), 0);
    axt_await_task(a, AX_ECANCELED);
    axt_await_task(b, AX_ECANCELED);
    ck_assert_int_eq(atomic_load(&woken), 0);
    return NULL;
}

/* Cancelled waiters of both loops return AX_ECANCELED. */
START_TEST(test_signal_wait_cancelled)
{
    AXT_RUN_LOOPS_CLEAN(2, main_cancel, NULL);
}
END_TEST

static void *main_einval(void *arg)
{
    static const int bad[] = {0, -1, NSIG, SIGKILL, SIGSTOP, SIGSEGV,
                              SIGBUS, SIGILL, SIGFPE, SIGTRAP};
    (void)arg;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        axt_assert_rc(ax_signal_wait(bad[i], 0), AX_EINVAL);
    axt_assert_rc(ax_signal_wait(SIGUSR1, NAN), AX_EINVAL);
    axt_assert_rc(ax_signal_wait_dl(SIGUSR1, -2), AX_EINVAL);
    ck_assert_double_eq(ax_now(), 0.0);
    return NULL;
}

/* Signal numbers that cannot be awaited, NaN, a bad deadline: AX_EINVAL;
 * outside a task: AX_ENOTTASK. */
START_TEST(test_signal_wait_einval)
{
    axt_assert_rc(ax_signal_wait(SIGUSR1, 1), AX_ENOTTASK);
    AXT_RUN_CLEAN(main_einval, NULL, NULL);
}
END_TEST

static void *raise_sigint_forever(void *arg)
{
    (void)arg;
    for (int i = 0; i < 400; i++) {
        raise(SIGINT);
        usleep(10000);
    }
    return NULL;
}

static void *stubborn(void *arg)
{
    (void)arg;
    /* treats the cancellation of the shutdown like a timeout: ~8 s */
    for (int i = 0; i < 800; i++)
        ax_sleep(0.01);
    return NULL;
}

static void *main_stuck_shutdown(void *arg)
{
    pthread_t th;
    (void)arg;
    if (ax_stop_on_signals() != 0 || ax_spawn(NULL, stubborn, NULL) != 0)
        return ax_task_fail(AX_EINVAL);
    if (pthread_create(&th, NULL, raise_sigint_forever, NULL) != 0)
        return ax_task_fail(AX_EAGAIN);
    pthread_detach(th);
    ax_sleep(1e6); /* the first SIGINT cancels it */
    return NULL;
}

/* After ax_stop_on_signals(), a second SIGINT while the shutdown is stuck
 * on a task that ignores cancellation ends the process by SIGINT. */
START_TEST(test_second_sigint_ends_stuck_shutdown)
{
    int st = 0;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ax_opts o;
        memset(&o, 0, sizeof o);
        o.loops = 2;
        unsetenv("AX_VIRTUAL_CLOCK");
        ax_run_with(&o, main_stuck_shutdown, NULL, NULL);
        _exit(3); /* the stubborn task outlived the signals */
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT,
                  "child status %#x", st);
}
END_TEST

Suite *ax_signal_suite(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = axt_tcase(s, "wait");

    tcase_add_test(tc, test_signal_wait_wakes_waiters_on_two_loops);
    tcase_add_test(tc, test_signal_wait_single_loop);
    tcase_add_test(tc, test_signal_wait_timeout);
    tcase_add_test(tc, test_signal_wait_cancelled);
    tcase_add_test(tc, test_signal_wait_einval);

    tc = axt_tcase(s, "stop");
    tcase_add_test(tc, test_second_sigint_ends_stuck_shutdown);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_signal_suite());
}
#endif
