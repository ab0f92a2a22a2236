/* SPDX-License-Identifier: MIT */
/*
 * check_process.c: tests for axon/process.h, with real programs (cat, sh,
 * head, ls, sleep).
 *
 * Children run in real time, so these tests use the real clock; every
 * timeout that must not fire is a hang guard only, and the one that must
 * fire (a child ignoring SIGTERM) bounds nothing from above. Each process
 * is waited for and freed; the loop must close clean.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_process_suite(void);

#define GUARD 60.0 /* seconds: a hang guard, never a bound */

static void run_real(ax_task_fn fn, void *arg)
{
    int rc = ax_test_run_real(fn, arg, NULL);
    ck_assert_msg(rc == 0, "ax_run returned %d (%s); report:\n%s", rc,
                  ax_err_name(rc), ax_test_report());
    AXT_ASSERT_CLEAN();
}

/* Read @p s to its end into @p buf (NUL-terminated); returns the length. */
static size_t read_all(ax_sock *s, char *buf, size_t cap)
{
    size_t got = 0;

    for (;;) {
        ssize_t n = ax_read(s, buf + got, cap - 1 - got, GUARD);
        ck_assert_msg(n >= 0, "ax_read: %s", ax_err_name((int)n));
        if (n == 0)
            break;
        got += (size_t)n;
        ck_assert_uint_lt(got, cap - 1);
    }
    buf[got] = '\0';
    return got;
}

static int wait_status(ax_process *p)
{
    int st = -1;
    axt_assert_rc(ax_process_wait(p, &st, GUARD), 0);
    return st;
}

/* ---- pipes --------------------------------------------------------------- */

static void *main_cat(void *arg)
{
    const char *argv[] = {"cat", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_PIPE, AX_STDIO_PIPE,
                                   AX_STDIO_INHERIT}};
    ax_process *p;
    char buf[256];
    int st;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    ck_assert_int_gt(ax_process_pid(p), 0);
    ck_assert_ptr_nonnull(ax_process_pipe(p, 0));
    ck_assert_ptr_nonnull(ax_process_pipe(p, 1));
    ck_assert_ptr_null(ax_process_pipe(p, 2)); /* inherited */
    axt_assert_rc(ax_write_all(ax_process_pipe(p, 0), "hello\nworld\n", 12,
                               GUARD),
                  0);
    /* EOF for cat: it ends after echoing everything. */
    axt_assert_rc(ax_process_close_pipe(p, 0), 0);
    ck_assert_ptr_null(ax_process_pipe(p, 0));
    axt_assert_rc(ax_process_close_pipe(p, 0), AX_EINVAL);
    ck_assert_uint_eq(read_all(ax_process_pipe(p, 1), buf, sizeof buf), 12);
    ck_assert_str_eq(buf, "hello\nworld\n");
    st = wait_status(p);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_cat_round_trip)
{
    run_real(main_cat, NULL);
}
END_TEST

/* A line-by-line conversation: the pipes work with ax_read_until. */
static void *main_cat_lines(void *arg)
{
    const char *argv[] = {"cat", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_PIPE, AX_STDIO_PIPE,
                                   AX_STDIO_NULL}};
    ax_process *p;
    char *line;
    size_t len;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    for (int i = 0; i < 50; i++) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "line %d\n", i);
        axt_assert_rc(ax_write_all(ax_process_pipe(p, 0), msg, (size_t)n,
                                   GUARD),
                      0);
        axt_assert_rc(ax_read_until(ax_process_pipe(p, 1), "\n", &line,
                                    &len, 100, GUARD),
                      0);
        ck_assert_uint_eq(len, (size_t)n);
        ck_assert_int_eq(memcmp(line, msg, len), 0);
    }
    axt_assert_rc(ax_process_close_pipe(p, 0), 0);
    ck_assert(WIFEXITED(wait_status(p)));
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_cat_lines)
{
    run_real(main_cat_lines, NULL);
}
END_TEST

/* 100 MB through stdout while the parent reads slowly: the child blocks
 * on the full pipe, nothing deadlocks, every byte arrives. */
#define BIG (100u * 1024 * 1024)

static void *main_big_output(void *arg)
{
    const char *argv[] = {"head", "-c", "104857600", "/dev/zero", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_NULL, AX_STDIO_PIPE,
                                   AX_STDIO_INHERIT}};
    ax_process *p;
    size_t total = 0, reads = 0, nonzero = 0;
    static char buf[65536];
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    for (;;) {
        ssize_t n = ax_read(ax_process_pipe(p, 1), buf, sizeof buf, GUARD);
        ck_assert_msg(n >= 0, "ax_read: %s", ax_err_name((int)n));
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i += 4096)
            nonzero += buf[i] != 0;
        total += (size_t)n;
        /* Slow reader: let the pipe fill up now and then. */
        if (++reads % 256 == 0)
            axt_assert_rc(ax_sleep(0.002), 0);
    }
    ck_assert_uint_eq(total, BIG);
    ck_assert_uint_eq(nonzero, 0);
    ck_assert_int_eq(WEXITSTATUS(wait_status(p)), 0);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_100mb_stdout_slow_reader)
{
    run_real(main_big_output, NULL);
}
END_TEST

/* Writing to a child that is gone: AX_EPIPE, and no SIGPIPE kills us. */
static void *main_epipe(void *arg)
{
    const char *argv[] = {"true", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_PIPE, AX_STDIO_NULL,
                                   AX_STDIO_NULL}};
    ax_process *p;
    char buf[4096] = {0};
    int rc = 0;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    ck_assert_int_eq(WEXITSTATUS(wait_status(p)), 0);
    for (int i = 0; i < 100 && !rc; i++)
        rc = ax_write_all(ax_process_pipe(p, 0), buf, sizeof buf, GUARD);
    axt_assert_rc(rc, AX_EPIPE);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_write_to_gone_child_epipe)
{
    run_real(main_epipe, NULL);
}
END_TEST

/* ---- exit status, signals ------------------------------------------------ */

static void *main_exit_status(void *arg)
{
    const char *argv[] = {"sh", "-c", "exit 3", NULL};
    ax_process *p;
    int st = -1, st2 = -1;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, NULL), 0);
    st = wait_status(p);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 3);
    /* Waiting again gives the same status at once, even with a past
     * deadline; a signal to a reaped child is refused. */
    axt_assert_rc(ax_process_wait_dl(p, &st2, 0), 0);
    ck_assert_int_eq(st2, st);
    axt_assert_rc(ax_process_wait(p, NULL, 0), 0);
    axt_assert_rc(ax_process_kill(p, SIGTERM), AX_EALREADY);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_exit_status_and_wait_twice)
{
    run_real(main_exit_status, NULL);
}
END_TEST

static void *main_killed(void *arg)
{
    const char *argv[] = {"sleep", "60", NULL};
    ax_process *p;
    int st;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, NULL), 0);
    axt_assert_rc(ax_process_kill(p, 0), 0); /* alive */
    axt_assert_rc(ax_process_kill(p, SIGTERM), 0);
    st = wait_status(p);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), SIGTERM);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_killed_by_signal)
{
    run_real(main_killed, NULL);
}
END_TEST

/* A child that ignores SIGTERM: the wait with a deadline times out, then
 * SIGKILL ends it. The trap is set before "ready" is printed. */
static void *main_ignores_term(void *arg)
{
    const char *argv[] = {"sh", "-c", "trap '' TERM; echo ready; exec sleep 60",
                          NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_NULL, AX_STDIO_PIPE,
                                   AX_STDIO_INHERIT}};
    ax_process *p;
    char *line;
    size_t len;
    int st;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    axt_assert_rc(ax_read_until(ax_process_pipe(p, 1), "\n", &line, &len, 64,
                                GUARD),
                  0);
    ck_assert_int_eq(memcmp(line, "ready\n", 6), 0);
    axt_assert_rc(ax_process_kill(p, SIGTERM), 0);
    axt_assert_rc(ax_process_wait_dl(p, &st, ax_now_ns() + 300000000),
                  AX_ETIMEDOUT);
    axt_assert_rc(ax_process_kill(p, 0), 0); /* still there */
    axt_assert_rc(ax_process_kill(p, SIGKILL), 0);
    st = wait_status(p);
    ck_assert(WIFSIGNALED(st));
    ck_assert_int_eq(WTERMSIG(st), SIGKILL);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_ignores_sigterm_then_sigkill)
{
    run_real(main_ignores_term, NULL);
}
END_TEST

/* The same statuses through the SIGCHLD fallback (no pidfd). */
START_TEST(test_sigchld_fallback)
{
    setenv("AX_NO_PIDFD", "1", 1); /* forked test: no leak to others */
    run_real(main_exit_status, NULL);
    run_real(main_killed, NULL);
    run_real(main_ignores_term, NULL);
}
END_TEST

/* ---- environment, directory, descriptors --------------------------------- */

static void *main_env_cwd(void *arg)
{
    const char *argv[] = {"sh", "-c", "echo \"$FOO\"; pwd; echo \"${HOME-unset}\"",
                          NULL};
    const char *env[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
    ax_process_opts o = {.env = env, .cwd = "/",
                         .stdio = {AX_STDIO_NULL, AX_STDIO_PIPE,
                                   AX_STDIO_PIPE}};
    ax_process *p;
    char out[256], err[256];
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    read_all(ax_process_pipe(p, 1), out, sizeof out);
    read_all(ax_process_pipe(p, 2), err, sizeof err);
    ck_assert_str_eq(out, "bar baz\n/\nunset\n");
    ck_assert_str_eq(err, "");
    ck_assert_int_eq(WEXITSTATUS(wait_status(p)), 0);
    axt_assert_rc(ax_process_free(p), 0);
    return NULL;
}

START_TEST(test_env_and_cwd)
{
    run_real(main_env_cwd, NULL);
}
END_TEST

/* A descriptor of the application without O_CLOEXEC and axon's own pipe
 * ends must not reach the child: ls sees 0, 1, 2 and its own directory. */
static void *main_no_fd_leak(void *arg)
{
    const char *argv[] = {"ls", "/proc/self/fd", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_PIPE, AX_STDIO_PIPE,
                                   AX_STDIO_NULL}};
    ax_process *p;
    char out[256];
    int leaky = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
    (void)arg;

    ck_assert_int_ge(leaky, 3);
    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    read_all(ax_process_pipe(p, 1), out, sizeof out);
    ck_assert_int_eq(WEXITSTATUS(wait_status(p)), 0);
    axt_assert_rc(ax_process_free(p), 0);
    close(leaky);
    ck_assert_str_eq(out, "0\n1\n2\n3\n");
    return NULL;
}

START_TEST(test_no_fd_leak)
{
#ifndef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    AXT_SKIP("no posix_spawn_file_actions_addclosefrom_np: only axon's own "
             "descriptors are close-on-exec");
#endif
    if (access("/proc/self/fd", R_OK) != 0)
        AXT_SKIP("no /proc/self/fd");
    run_real(main_no_fd_leak, NULL);
}
END_TEST

/* ---- misuse -------------------------------------------------------------- */

static void *main_missing(void *arg)
{
    const char *missing[] = {"axon-no-such-program-4031", NULL};
    const char *abs_missing[] = {"/nonexistent/dir/prog", NULL};
    const char *not_exec[] = {"/etc/passwd", NULL};
    const char *empty[] = {NULL};
    const char *empty_name[] = {"", NULL};
    const char *ok[] = {"true", NULL};
    ax_process_opts bad = {.stdio = {AX_STDIO_INHERIT, (ax_stdio)7,
                                     AX_STDIO_INHERIT}};
    ax_process_opts nodir = {.cwd = "/nonexistent/dir"};
    ax_process_opts filedir = {.cwd = "/etc/passwd"};
    ax_process *p = AXT_P(0x1);
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, missing, NULL), -ENOENT);
    axt_assert_rc(ax_process_spawn(&p, abs_missing, NULL), -ENOENT);
    axt_assert_rc(ax_process_spawn(&p, not_exec, NULL), -EACCES);
    axt_assert_rc(ax_process_spawn(&p, empty, NULL), AX_EINVAL);
    axt_assert_rc(ax_process_spawn(&p, empty_name, NULL), AX_EINVAL);
    axt_assert_rc(ax_process_spawn(&p, NULL, NULL), AX_EINVAL);
    axt_assert_rc(ax_process_spawn(NULL, ok, NULL), AX_EINVAL);
    axt_assert_rc(ax_process_spawn(&p, ok, &bad), AX_EINVAL);
    /* A working directory that does not exist: exec never happens. */
    axt_assert_rc(ax_process_spawn(&p, ok, &nodir), -ENOENT);
    axt_assert_rc(ax_process_spawn(&p, ok, &filedir), -ENOTDIR);
    ck_assert_ptr_eq(p, AXT_P(0x1)); /* untouched */
    return NULL;
}

START_TEST(test_missing_program_and_bad_inputs)
{
    run_real(main_missing, NULL);
}
END_TEST

static void *waiter(void *arg)
{
    return AXT_P(ax_process_wait(arg, NULL, -1));
}

static void *main_stale_and_busy(void *arg)
{
    const char *argv[] = {"sleep", "60", NULL};
    ax_process_opts o = {.stdio = {AX_STDIO_NULL, AX_STDIO_PIPE,
                                   AX_STDIO_INHERIT}};
    ax_process *p, *stale;
    ax_task *t;
    int st;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, &o), 0);
    axt_spawn(&t, waiter, p);
    axt_assert_rc(ax_yield(), 0);
    /* One waiter at a time; no free under a waiter. */
    axt_assert_rc(ax_process_wait(p, &st, 0), AX_EBUSY);
    axt_assert_rc(ax_process_free(p), AX_EBUSY);
    axt_assert_rc(ax_process_kill(p, SIGKILL), 0);
    axt_assert_rc(ax_await(t, NULL), 0);
    axt_assert_rc(ax_process_wait(p, &st, 0), 0);
    ck_assert_int_eq(WTERMSIG(st), SIGKILL);
    /* Bad arguments. */
    axt_assert_rc(ax_process_kill(p, -1), AX_EINVAL);
    axt_assert_rc(ax_process_kill(p, 100000), AX_EINVAL);
    axt_assert_rc(ax_process_wait_dl(p, &st, -2), AX_EINVAL);
    axt_assert_rc(ax_process_wait(p, &st, NAN), AX_EINVAL);
    axt_assert_rc(ax_process_close_pipe(p, 3), AX_EINVAL);
    axt_assert_rc(ax_process_close_pipe(p, 0), AX_EINVAL); /* not a pipe */
    ck_assert_ptr_null(ax_process_pipe(p, -1));
    axt_assert_rc(ax_process_kill(NULL, SIGTERM), AX_EINVAL);
    axt_assert_rc(ax_process_wait(NULL, &st, 0), AX_EINVAL);
    axt_assert_rc(ax_process_free(NULL), AX_EINVAL);
    axt_assert_rc(ax_process_pid(NULL), AX_EINVAL);
    ck_assert_ptr_null(ax_process_pipe(NULL, 1));
    /* A stale handle. */
    stale = p;
    axt_assert_rc(ax_process_free(p), 0);
    axt_assert_rc(ax_process_free(stale), AX_ESRCH);
    axt_assert_rc(ax_process_wait(stale, &st, 0), AX_ESRCH);
    axt_assert_rc(ax_process_kill(stale, SIGTERM), AX_ESRCH);
    axt_assert_rc(ax_process_pid(stale), AX_ESRCH);
    axt_assert_rc(ax_process_close_pipe(stale, 1), AX_ESRCH);
    ck_assert_ptr_null(ax_process_pipe(stale, 1));
    return NULL;
}

START_TEST(test_stale_handle_and_busy)
{
    run_real(main_stale_and_busy, NULL);
}
END_TEST

/* Cancelling a waiter; freeing a running child kills and reaps it. */
static void *main_cancel_and_free_running(void *arg)
{
    const char *argv[] = {"sleep", "60", NULL};
    ax_process *p;
    ax_task *t;
    pid_t pid;
    (void)arg;

    axt_assert_rc(ax_process_spawn(&p, argv, NULL), 0);
    pid = ax_process_pid(p);
    axt_spawn(&t, waiter, p);
    axt_assert_rc(ax_yield(), 0);
    ax_cancel(t);
    axt_assert_rc(ax_await(t, NULL), AX_ECANCELED);
    axt_assert_rc(ax_process_free(p), 0);
    /* Reaped: the pid is no longer our child. */
    ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    return NULL;
}

START_TEST(test_cancel_wait_and_free_running)
{
    run_real(main_cancel_and_free_running, NULL);
}
END_TEST

START_TEST(test_outside_loop_eperm)
{
    const char *argv[] = {"true", NULL};
    ax_process *p = AXT_P(0x1);
    axt_assert_rc(ax_process_spawn(&p, argv, NULL), AX_EPERM);
    ck_assert_ptr_eq(p, AXT_P(0x1));
}
END_TEST

Suite *ax_process_suite(void)
{
    Suite *s = suite_create("process");
    TCase *tc = axt_tcase(s, "pipes");
    tcase_add_test(tc, test_cat_round_trip);
    tcase_add_test(tc, test_cat_lines);
    tcase_add_test(tc, test_100mb_stdout_slow_reader);
    tcase_add_test(tc, test_write_to_gone_child_epipe);

    tc = axt_tcase(s, "status");
    tcase_add_test(tc, test_exit_status_and_wait_twice);
    tcase_add_test(tc, test_killed_by_signal);
    tcase_add_test(tc, test_ignores_sigterm_then_sigkill);
    tcase_add_test(tc, test_sigchld_fallback);

    tc = axt_tcase(s, "spawn");
    tcase_add_test(tc, test_env_and_cwd);
    tcase_add_test(tc, test_no_fd_leak);

    tc = axt_tcase(s, "misuse");
    tcase_add_test(tc, test_missing_program_and_bad_inputs);
    tcase_add_test(tc, test_stale_handle_and_busy);
    tcase_add_test(tc, test_cancel_wait_and_free_running);
    tcase_add_test(tc, test_outside_loop_eperm);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_process_suite());
}
#endif
