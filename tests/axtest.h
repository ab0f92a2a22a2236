/* SPDX-License-Identifier: MIT */
/*
 * axtest.h: helpers shared by axon's Check suites.
 *
 * Every suite is one program (tests/check_<header>.c) that exports
 * `Suite *ax_<header>_suite(void)` and, unless AX_TEST_NO_MAIN is defined,
 * a main() that runs it with srunner_run_all(CK_NORMAL) and returns 1 when a
 * test failed. Tests run forked (Check's default, CK_FORK), so each test gets
 * a fresh process: globals start at zero and setenv() does not leak.
 *
 * ax_test_run(fn, arg, &result) runs fn as the main task of a fresh loop with
 * the virtual clock on and the teardown report redirected to a tmpfile(); the
 * report's text is then available from ax_test_report(), and
 * AXT_ASSERT_CLEAN() asserts it is empty (the loop closed clean: no task left
 * unawaited, no failure unretrieved, no future leaked, no deadlock).
 *
 * Assertions may be made inside task bodies: in CK_FORK mode a failure ends
 * the forked test process. (With CK_FORK=no a failure inside a task longjmps
 * off the task's stack and leaves the thread's loop behind, so later tests
 * in the same process fail with AX_EBUSY; use the default CK_FORK.)
 *
 * Tests must themselves be clean under ASan, TSan and valgrind: every task is
 * awaited or detached and every future freed, unless a test checks that the
 * loop reports exactly that misuse.
 */
#ifndef AXTEST_H
#define AXTEST_H

#include <check.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <axon.h>

#if defined(__GNUC__)
#define AXT_UNUSED __attribute__((unused))
#else
#define AXT_UNUSED
#endif

/* Pointer <-> integer for task results. */
#define AXT_P(n) ((void *)(intptr_t)(n))
#define AXT_I(p) ((intptr_t)(p))

/* Per-test-case timeout (seconds): a hang guard only, never a time bound on
 * the behaviour under test. Generous so valgrind and sanitizers fit. */
#ifndef AXT_TIMEOUT
#define AXT_TIMEOUT 60.0
#endif

/* AXT_TSAN is 1 in a ThreadSanitizer build (gcc or clang). Its runtime
 * makes each task (a fiber of its own) and each cross-thread wake-up cost
 * far more, so a case that repeats the same thing many times may repeat it
 * fewer times there, as under valgrind (AX_UNDER_VALGRIND): enough to
 * still do what the case is for, which its comment says. */
#if defined(__SANITIZE_THREAD__)
#define AXT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define AXT_TSAN 1
#endif
#endif
#ifndef AXT_TSAN
#define AXT_TSAN 0
#endif

/* ------------------------------------------------------------------------ */
/* Running a loop                                                           */

#define AXT_REPORT_MAX 65536
static char axt_report_buf[AXT_REPORT_MAX];

/* Copy what was written to @p f into axt_report_buf and close @p f. */
static AXT_UNUSED void axt_slurp_and_close(FILE *f)
{
    size_t n = 0;
    axt_report_buf[0] = '\0';
    if (f == NULL)
        return;
    fflush(f);
    rewind(f);
    n = fread(axt_report_buf, 1, AXT_REPORT_MAX - 1, f);
    axt_report_buf[n] = '\0';
    fclose(f);
}

/**
 * Run @p fn under ax_run_with() with the options in @p opts (may be NULL:
 * virtual clock on, everything else default) and the report redirected to a
 * tmpfile. Returns ax_run_with()'s status. The report text is then in
 * ax_test_report().
 */
static AXT_UNUSED int ax_test_run_with(const ax_opts *opts, ax_task_fn fn,
                                       void *arg, void **result)
{
    ax_opts o;
    FILE *rep;
    int rc;

    if (opts != NULL) {
        o = *opts;
    } else {
        memset(&o, 0, sizeof o);
        o.virtual_clock = true;
    }
    rep = tmpfile();
    ck_assert_msg(rep != NULL, "tmpfile() failed");
    o.report = rep;
    rc = ax_run_with(&o, fn, arg, result);
    axt_slurp_and_close(rep);
    return rc;
}

/** Run @p fn on a fresh loop with the virtual clock and a tmpfile report. */
static AXT_UNUSED int ax_test_run(ax_task_fn fn, void *arg, void **result)
{
    return ax_test_run_with(NULL, fn, arg, result);
}

/** Run with the real (monotonic) clock, report to a tmpfile. */
static AXT_UNUSED int ax_test_run_real(ax_task_fn fn, void *arg,
                                       void **result)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = false;
    /* The environment variable would force the virtual clock on. */
    unsetenv("AX_VIRTUAL_CLOCK");
    return ax_test_run_with(&o, fn, arg, result);
}

/** The teardown report written by the last ax_test_run*(). */
static AXT_UNUSED const char *ax_test_report(void)
{
    return axt_report_buf;
}

/** Whether the last report contains @p needle. */
static AXT_UNUSED bool ax_test_report_has(const char *needle)
{
    return strstr(axt_report_buf, needle) != NULL;
}

/** Assert the last run's report is empty: the loop closed clean. */
#define AXT_ASSERT_CLEAN()                                                    \
    ck_assert_msg(ax_test_report()[0] == '\0',                                \
                  "loop did not close clean; report:\n%s", ax_test_report())

/** Assert the last report contains @p needle. */
#define AXT_ASSERT_REPORT_HAS(needle)                                         \
    ck_assert_msg(ax_test_report_has(needle),                                 \
                  "report lacks \"%s\"; report:\n%s", (needle),               \
                  ax_test_report())

/** Assert the last report does not contain @p needle. */
#define AXT_ASSERT_REPORT_LACKS(needle)                                       \
    ck_assert_msg(!ax_test_report_has(needle),                                \
                  "report has \"%s\"; report:\n%s", (needle),                 \
                  ax_test_report())

/** Run @p fn (virtual clock), assert status 0 and a clean report. */
#define AXT_RUN_CLEAN(fn, arg, resultp)                                       \
    do {                                                                      \
        int axt_rc_ = ax_test_run((fn), (arg), (resultp));                    \
        ck_assert_msg(axt_rc_ == 0, "ax_run returned %d (%s); report:\n%s",   \
                      axt_rc_, ax_err_name(axt_rc_), ax_test_report());       \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

/** AXT_RUN_CLEAN with @p nloops loops (virtual clock), for the tests that
 *  hand an object to another loop. */
#define AXT_RUN_LOOPS_CLEAN(nloops, fn, arg)                                  \
    do {                                                                      \
        ax_opts axt_o_;                                                       \
        memset(&axt_o_, 0, sizeof axt_o_);                                    \
        axt_o_.loops = (nloops);                                              \
        axt_o_.virtual_clock = true;                                          \
        int axt_rc_ = ax_test_run_with(&axt_o_, (fn), (arg), NULL);           \
        ck_assert_msg(axt_rc_ == 0, "ax_run returned %d (%s); report:\n%s",   \
                      axt_rc_, ax_err_name(axt_rc_), ax_test_report());       \
        AXT_ASSERT_CLEAN();                                                   \
    } while (0)

/** Assert an axon status code, printing names on mismatch. */
#define axt_assert_rc(got, want)                                              \
    do {                                                                      \
        int axt_g_ = (got), axt_w_ = (want);                                  \
        /* ck_abort_msg only on failure: a passing ck_assert writes its   \
         * location to Check's pipe (a syscall), which in wait loops      \
         * floods the pipe and slows the sanitizer runs. */               \
        if (axt_g_ != axt_w_)                                                 \
            ck_abort_msg("%s: got %d (%s), want %d (%s)", #got, axt_g_,       \
                         ax_err_name(axt_g_), axt_w_, ax_err_name(axt_w_));   \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Reading captured text                                                    */

/**
 * Copy into @p out (size @p n) the first line of @p text that contains
 * @p needle; return false (and out = "") if there is none.
 */
static AXT_UNUSED bool axt_line_with(const char *text, const char *needle,
                                     char *out, size_t n)
{
    const char *hit = strstr(text, needle);
    const char *b, *e;
    size_t len;

    if (n > 0)
        out[0] = '\0';
    if (hit == NULL)
        return false;
    b = hit;
    while (b > text && b[-1] != '\n')
        b--;
    e = strchr(hit, '\n');
    if (e == NULL)
        e = hit + strlen(hit);
    len = (size_t)(e - b);
    if (n == 0)
        return true;
    if (len >= n)
        len = n - 1;
    memcpy(out, b, len);
    out[len] = '\0';
    return true;
}

/** Whether some line of @p text starts with @p prefix. */
static AXT_UNUSED bool axt_has_line_starting(const char *text,
                                             const char *prefix)
{
    size_t pl = strlen(prefix);
    const char *p = text;
    while (p != NULL && *p != '\0') {
        if (strncmp(p, prefix, pl) == 0)
            return true;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

/** Read all of @p f (rewound first) into @p buf (size @p n). */
static AXT_UNUSED void axt_read_file(FILE *f, char *buf, size_t n)
{
    size_t got;
    fflush(f);
    rewind(f);
    got = fread(buf, 1, n - 1, f);
    buf[got] = '\0';
}

/* ------------------------------------------------------------------------ */
/* An event log, for ordering tests                                         */

static char axt_log_buf[8192];
static size_t axt_log_len;

static AXT_UNUSED void axt_log_reset(void)
{
    axt_log_len = 0;
    axt_log_buf[0] = '\0';
}

static AXT_UNUSED void axt_log(const char *s)
{
    size_t l = strlen(s);
    if (axt_log_len + l >= sizeof axt_log_buf)
        l = sizeof axt_log_buf - 1 - axt_log_len;
    memcpy(axt_log_buf + axt_log_len, s, l);
    axt_log_len += l;
    axt_log_buf[axt_log_len] = '\0';
}

static AXT_UNUSED const char *axt_log_str(void)
{
    return axt_log_buf;
}

#define AXT_ASSERT_LOG(want) ck_assert_str_eq(axt_log_str(), (want))

/* ------------------------------------------------------------------------ */
/* A configurable task body                                                 */

/**
 * axt_probe_fn(probe): marks started, logs `tag` (if set) on start, sleeps
 * `sleep` seconds (recording the status in sleep_rc and the clock in
 * woke_at), logs `wtag` (if set) when it wakes, and if that sleep was
 * cancelled sets `cleanup` and sleeps `cleanup_sleep` more (status in
 * cleanup_rc). Then sets `finished` and returns `ret`, or fails with `fail`
 * if non-zero.
 */
typedef struct axt_probe {
    double sleep;
    double cleanup_sleep;
    void *ret;
    int fail;
    const char *tag;
    const char *wtag;
    /* outputs */
    int started;
    int sleep_rc;
    int cleanup;
    int cleanup_rc;
    int finished;
    double woke_at;
} axt_probe;

static AXT_UNUSED void *axt_probe_fn(void *arg)
{
    axt_probe *p = arg;
    p->started = 1;
    if (p->tag != NULL)
        axt_log(p->tag);
    p->sleep_rc = ax_sleep(p->sleep);
    p->woke_at = ax_now();
    if (p->wtag != NULL)
        axt_log(p->wtag);
    if (p->sleep_rc == AX_ECANCELED) {
        p->cleanup = 1;
        if (p->cleanup_sleep > 0)
            p->cleanup_rc = ax_sleep(p->cleanup_sleep);
    }
    p->finished = 1;
    if (p->fail != 0)
        return ax_task_fail(p->fail);
    return p->ret;
}

/** A connected TCP pair on 127.0.0.1 made by the current task: the kernel
 *  completes the handshake before anybody accepts. */
static AXT_UNUSED void axt_tcp_pair(ax_sock **srv, ax_sock **cli)
{
    ax_sock *l = NULL;
    int port;
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    port = ax_sock_port(l);
    ck_assert_int_gt(port, 0);
    axt_assert_rc(ax_connect(cli, "127.0.0.1", port, -1), 0);
    axt_assert_rc(ax_accept(l, srv, -1), 0);
    axt_assert_rc(ax_close(l), 0);
}

/** Returns its argument. */
static AXT_UNUSED void *axt_return_arg(void *arg)
{
    return arg;
}

/** Sets *(int *)arg = 1 and returns. */
static AXT_UNUSED void *axt_set_flag(void *arg)
{
    *(int *)arg = 1;
    return NULL;
}

/** Fails with the code (intptr_t)arg, without suspending. */
static AXT_UNUSED void *axt_fail_with(void *arg)
{
    return ax_task_fail((int)AXT_I(arg));
}

/** Spawn, asserting success. */
#define axt_spawn(outp, fn, arg)                                              \
    axt_assert_rc(ax_spawn((outp), (fn), (arg)), 0)

/** ax_spawn_with() on @p loop: the cross-loop tests name a loop in almost
 *  every spawn, and this keeps each of them on one line. Returns the code. */
static AXT_UNUSED int axt_spawn_on(ax_loop *loop, ax_task **out, ax_task_fn fn,
                                   void *arg)
{
    ax_task_opts o;
    memset(&o, 0, sizeof o);
    o.loop = loop;
    return ax_spawn_with(out, fn, arg, &o);
}

#if AXON_HAVE_ACTORS /* configure --disable-actors has no actor.h */
/** ax_actor_spawn() on @p loop with @p opts (NULL: the defaults), for the
 *  same reason as axt_spawn_on(). Returns the code. */
static AXT_UNUSED int axt_actor_spawn_on(ax_loop *loop, ax_actor_ref *out,
                                         ax_task_fn fn, void *arg,
                                         const ax_actor_opts *opts)
{
    ax_actor_opts o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.loop = loop;
    return ax_actor_spawn(out, fn, arg, &o);
}
#endif

/** Spawn with a name, asserting success. */
static AXT_UNUSED ax_task *axt_spawn_named(const char *name, ax_task_fn fn,
                                           void *arg)
{
    ax_task *t = NULL;
    ax_task_opts o;
    memset(&o, 0, sizeof o);
    o.name = name;
    axt_assert_rc(ax_spawn_with(&t, fn, arg, &o), 0);
    ck_assert_ptr_nonnull(t);
    return t;
}

/** Await a task, asserting the status; returns its result. */
static AXT_UNUSED void *axt_await_task(ax_task *t, int want)
{
    void *r = NULL;
    axt_assert_rc(ax_await(t, &r), want);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Real servers on loopback                                                 */

/** A loopback port of @p type (SOCK_STREAM, SOCK_DGRAM) that was free a
 * moment ago (the kernel's pick for port 0), for a server the test starts;
 * -1 if none could be had. */
static AXT_UNUSED int axt_free_port(int type)
{
    struct sockaddr_in a;
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, type, 0), port = -1;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/** Whether something accepts TCP connections on 127.0.0.1:@p port (a
 * started server is up). Blocking; call it outside the loop's tasks. */
static AXT_UNUSED bool axt_port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Suites                                                                   */

/* Per-test setup: an empty log and report (matters only with CK_FORK=no). */
static AXT_UNUSED void axt_setup(void)
{
    axt_log_reset();
    axt_report_buf[0] = '\0';
}

/** Add @p tc (with the standard timeout and setup) to @p s. */
static AXT_UNUSED TCase *axt_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, AXT_TIMEOUT);
    tcase_add_checked_fixture(tc, axt_setup, NULL);
    suite_add_tcase(s, tc);
    return tc;
}

/** Whether tests run forked (Check's default; CK_FORK=no turns it off). */
static AXT_UNUSED bool axt_forked(void)
{
    const char *e = getenv("CK_FORK");
    return e == NULL || strcmp(e, "no") != 0;
}

/* ------------------------------------------------------------------------ */
/* Skipping                                                                 */

/* Check has no "skipped" result: a test that returns early passes. So a
 * test that cannot run here (no IPv6 loopback, a limit this machine or
 * build does not enforce, a sanitizer that owns the signal it needs) says
 * so with AXT_SKIP(why): it prints "SKIP: <test>: <why>" and returns.
 * tests/suite.sh counts those lines in its SKIP column, and a program all
 * of whose tests skipped exits 77, which automake reports as SKIP. The
 * count lives in a MAP_SHARED page made before the tests fork, so the
 * forked test processes can add to it. */
static unsigned *axt_nskipped;

static AXT_UNUSED void axt_skip_note(const char *fn, const char *why)
{
    size_t n = strlen(fn);
    /* START_TEST(name) defines name_fn */
    if (n > 3 && strcmp(fn + n - 3, "_fn") == 0)
        n -= 3;
    printf("SKIP: %.*s: %s\n", (int)n, fn, why);
    fflush(stdout);
    if (axt_nskipped != NULL)
        __atomic_fetch_add(axt_nskipped, 1, __ATOMIC_RELAXED);
}

/** End the current test as skipped, saying why (see above). */
#define AXT_SKIP(why)                                                        \
    do {                                                                     \
        axt_skip_note(__func__, (why));                                      \
        return;                                                              \
    } while (0)

/** Run @p s with CK_NORMAL output: 1 if any test failed, else 77 if every
 * test skipped (AXT_SKIP), else 0. */
static AXT_UNUSED int ax_test_main(Suite *s)
{
    SRunner *sr = srunner_create(s);
    void *page = mmap(NULL, sizeof *axt_nskipped, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int failed, run;
    unsigned skipped = 0;

    if (page != MAP_FAILED)
        axt_nskipped = page;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    run = srunner_ntests_run(sr);
    srunner_free(sr);
    if (axt_nskipped != NULL) {
        skipped = __atomic_load_n(axt_nskipped, __ATOMIC_RELAXED);
        axt_nskipped = NULL;
        munmap(page, sizeof *axt_nskipped);
    }
    if (failed)
        return 1;
    if (skipped > 0 && (int)skipped >= run) {
        printf("all %d test(s) skipped\n", run);
        return 77;
    }
    return 0;
}

#endif
