/* SPDX-License-Identifier: MIT */
/* check_error.c: tests for axon/error.h (ax_strerror, ax_err_name, codes). */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "axtest.h"

Suite *ax_error_suite(void);

/* Every code of the header's map: name, value and text, written out here
 * independently of AX_ERRNO_MAP so a wrong map is caught too. */
static const struct {
    int code;
    const char *name;
    const char *text;
} known[] = {
    {AX_EINVAL, "AX_EINVAL", "invalid argument"},
    {AX_ENOMEM, "AX_ENOMEM", "out of memory"},
    {AX_ECANCELED, "AX_ECANCELED", "operation canceled"},
    {AX_ETIMEDOUT, "AX_ETIMEDOUT", "operation timed out"},
    {AX_EAGAIN, "AX_EAGAIN", "resource temporarily unavailable"},
    {AX_EBUSY, "AX_EBUSY", "already awaited or owned by someone else"},
    {AX_EDEADLK, "AX_EDEADLK", "would deadlock"},
    {AX_EALREADY, "AX_EALREADY", "already done"},
    {AX_ESRCH, "AX_ESRCH", "no such task, future or actor"},
    {AX_EPERM, "AX_EPERM", "operation not permitted here"},
    {AX_ESHUTDOWN, "AX_ESHUTDOWN", "the loop or runtime is shutting down"},
    {AX_ENOTTASK, "AX_ENOTTASK", "must be called from inside a task"},
    {AX_EPENDING, "AX_EPENDING", "not done yet"},
    {AX_EWRONGLOOP, "AX_EWRONGLOOP", "object belongs to another loop"},
    {AX_ENOTACTOR, "AX_ENOTACTOR", "must be called from inside an actor"},
    {AX_ENESTED, "AX_ENESTED",
     "this thread already runs a loop: call ax_run from a plain thread"},
    {AX_EPIPE, "AX_EPIPE", "broken pipe or stream ended"},
    {AX_ECONNRESET, "AX_ECONNRESET", "connection reset by peer"},
    {AX_ECONNREFUSED, "AX_ECONNREFUSED", "connection refused"},
    {AX_EADDRINUSE, "AX_EADDRINUSE", "address already in use"},
    {AX_EMFILE, "AX_EMFILE", "too many open files"},
    {AX_ENFILE, "AX_ENFILE", "too many open files in system"},
    {AX_E2BIG, "AX_E2BIG", "too long"},
    {AX_EBADF, "AX_EBADF", "bad descriptor"},
    {AX_EOVERFLOW, "AX_EOVERFLOW",
     "value too large (a semaphore released too many times)"},
    {AX_EBROKEN, "AX_EBROKEN",
     "the barrier is broken (aborted, or reset while waiting)"},
    {AX_ENAME, "AX_ENAME",
     "host name not resolved (use a numeric address or localhost)"},
    {AX_ERESTARTS, "AX_ERESTARTS", "too many restarts: the supervisor gave up"},
    {AX_EQSHUTDOWN, "AX_EQSHUTDOWN", "the queue was shut down"},
    {AX_ETRUNC, "AX_ETRUNC",
     "datagram truncated: it was longer than the buffer"},
    {AX_ETLS, "AX_ETLS",
     "TLS handshake or record failed (ax_tls_last_error() has the reason)"},
    {AX_ETLSVERIFY, "AX_ETLSVERIFY",
     "TLS peer certificate not trusted or not for this host"},
    {AX_ETLSFILE, "AX_ETLSFILE", "TLS certificate, key or CA file not usable"},
    {AX_ENORESPONDERS, "AX_ENORESPONDERS",
     "no responders: no actor is registered under that name on any node"},
    {AX_ENODEDOWN, "AX_ENODEDOWN",
     "the remote node is down (its heartbeats stopped)"},
    {AX_ENATS, "AX_ENATS", "the NATS client library failed"},
    {AX_EBADFRAME, "AX_EBADFRAME", "not an axon message (malformed bytes)"},
    {AX_ENONAME, "AX_ENONAME",
     "host name not found (NXDOMAIN or no address; ax_dns_last_error() has "
     "the resolver's reason)"},
    {AX_EDNSFAIL, "AX_EDNSFAIL",
     "name server failed, refused or did not answer (ax_dns_last_error() "
     "has the resolver's reason)"},
    {AX_ESERVICE, "AX_ESERVICE",
     "service name unknown or not valid for the socket type"},
    {AX_ENOTSUP, "AX_ENOTSUP",
     "not supported on a shared-stack task (ax_task_opts.shared_stack)"},
};
#define NKNOWN (sizeof known / sizeof known[0])

/* ax_strerror() gives the documented text for every code. */
START_TEST(test_strerror_every_code)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *s = ax_strerror(known[i].code);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, known[i].text);
    }
}
END_TEST

/* ax_err_name() gives "AX_<NAME>" for every code. */
START_TEST(test_err_name_every_code)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *s = ax_err_name(known[i].code);
        ck_assert_ptr_nonnull(s);
        ck_assert_str_eq(s, known[i].name);
    }
}
END_TEST

/* The header's own X-macro list agrees with both functions. */
START_TEST(test_map_matches_functions)
{
    size_t count = 0;
#define X(name, value, text)                                                  \
    ck_assert_str_eq(ax_strerror(value), text);                               \
    ck_assert_str_eq(ax_err_name(value), "AX_" #name);                        \
    ck_assert_int_eq(AX_##name, value);                                       \
    count++;
    AX_ERRNO_MAP(X)
#undef X
    ck_assert_uint_eq(count, NKNOWN);
}
END_TEST

/* Code 0: "success" and "AX_OK". */
START_TEST(test_zero_is_success)
{
    ck_assert_int_eq(AX_OK, 0);
    ck_assert_str_eq(ax_strerror(0), "success");
    ck_assert_str_eq(ax_err_name(0), "AX_OK");
}
END_TEST

/* Unknown codes (a task's own -4777, -4000 just above axon's range, -4099
 * unused in it, an unregistered user code, INT_MIN, and positive values)
 * are shown by their number, never NULL. */
START_TEST(test_unknown_codes)
{
    const int bad[] = {-4777,   -4000, -4099, -5998,  -99999,
                       INT_MIN, 1,     12345, INT_MAX};
    char want[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_ptr_nonnull(ax_strerror(bad[i]));
        ck_assert_ptr_nonnull(ax_err_name(bad[i]));
        snprintf(want, sizeof want, "unknown error %d", bad[i]);
        ck_assert_str_eq(ax_strerror(bad[i]), want);
        snprintf(want, sizeof want, "%d", bad[i]);
        ck_assert_str_eq(ax_err_name(bad[i]), want);
    }
}
END_TEST

/* Kernel errors axon has no name for pass through with the C library's
 * name and text (ENOENT here). */
START_TEST(test_errno_fallback)
{
    ck_assert_str_eq(ax_strerror(-ENOENT), "No such file or directory");
    ck_assert_str_eq(ax_err_name(-ENOENT), "ENOENT");
}
END_TEST

/* ax_err_register(): a user code gets its name and text everywhere; the
 * range ends are accepted, codes outside it, NULL or empty strings are
 * AX_EINVAL, a second registration AX_EALREADY (the first stands). */
START_TEST(test_err_register)
{
    ck_assert_str_eq(ax_err_name(-5001), "-5001");
    axt_assert_rc(ax_err_register(-5001, "APP_EQUOTA", "quota exceeded"), 0);
    ck_assert_str_eq(ax_err_name(-5001), "APP_EQUOTA");
    ck_assert_str_eq(ax_strerror(-5001), "quota exceeded");
    axt_assert_rc(ax_err_register(-5001, "APP_OTHER", "other"), AX_EALREADY);
    ck_assert_str_eq(ax_err_name(-5001), "APP_EQUOTA");
    axt_assert_rc(ax_err_register(AX_ERR_USER_FIRST, "APP_FIRST", "first"), 0);
    axt_assert_rc(ax_err_register(AX_ERR_USER_LAST, "APP_LAST", "last"), 0);
    ck_assert_str_eq(ax_err_name(AX_ERR_USER_LAST), "APP_LAST");
    ck_assert_str_eq(ax_strerror(AX_ERR_USER_FIRST), "first");
    axt_assert_rc(ax_err_register(AX_ERR_USER_FIRST + 1, "X", "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(AX_ERR_USER_LAST - 1, "X", "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(AX_EINVAL, "X", "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(-ENOENT, "X", "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(5001, "X", "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(-5002, NULL, "x"), AX_EINVAL);
    axt_assert_rc(ax_err_register(-5002, "X", NULL), AX_EINVAL);
    axt_assert_rc(ax_err_register(-5002, "", "x"), AX_EINVAL);
    ck_assert_str_eq(ax_err_name(-5002), "-5002"); /* nothing recorded */
}
END_TEST

/* Many threads register distinct codes and race for one: each distinct
 * code is registered, exactly one racer wins the shared code, and readers
 * on other threads see complete entries. */
#define REG_THREADS 8
static atomic_int reg_wins;
static void *register_in_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    static const char *names[REG_THREADS] = {"T0", "T1", "T2", "T3",
                                             "T4", "T5", "T6", "T7"};
    if (ax_err_register(-5100 - id, names[id], "mine") != 0)
        return (void *)1;
    if (ax_err_register(-5200, names[id], "shared") == 0)
        atomic_fetch_add(&reg_wins, 1);
    for (int i = 0; i < 1000; i++) {
        const char *n = ax_err_name(-5200);
        if (strcmp(n, "-5200") != 0 && strcmp(ax_strerror(-5200), "shared"))
            return (void *)2;
    }
    return NULL;
}

START_TEST(test_err_register_threads)
{
    pthread_t th[REG_THREADS];
    void *r;
    for (int i = 0; i < REG_THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, register_in_thread,
                                        (void *)(intptr_t)i),
                         0);
    for (int i = 0; i < REG_THREADS; i++) {
        ck_assert_int_eq(pthread_join(th[i], &r), 0);
        ck_assert_ptr_null(r);
    }
    ck_assert_int_eq(atomic_load(&reg_wins), 1);
    ck_assert_str_eq(ax_strerror(-5103), "mine");
    ck_assert_str_eq(ax_err_name(-5107), "T7");
    ck_assert_int_eq(ax_err_name(-5200)[0], 'T');
}
END_TEST

/* A task failing with a registered code is reported by that name; with an
 * unregistered one, by its number. */
static void *fail_registered(void *arg)
{
    (void)arg;
    return ax_task_fail(-5300);
}

static void *main_report_codes(void *arg)
{
    (void)arg;
    axt_assert_rc(ax_err_register(-5300, "APP_ENOPE", "nope"), 0);
    axt_assert_rc(ax_spawn(NULL, fail_registered, NULL), 0);
    axt_assert_rc(ax_spawn(NULL, axt_fail_with, AXT_P(-4777)), 0);
    axt_assert_rc(ax_sleep(0.1), 0);
    return NULL;
}

START_TEST(test_report_names_user_codes)
{
    axt_assert_rc(ax_test_run(main_report_codes, NULL, NULL), 0);
    ck_assert_ptr_nonnull(
        strstr(ax_test_report(), "failed with APP_ENOPE (nope)"));
    ck_assert_ptr_nonnull(
        strstr(ax_test_report(), "failed with -4777 (unknown error -4777)"));
}
END_TEST

/* Never NULL over a wide range of codes. */
START_TEST(test_never_null)
{
    for (int c = -5000; c <= 200; c++) {
        ck_assert_ptr_nonnull(ax_strerror(c));
        ck_assert_ptr_nonnull(ax_err_name(c));
    }
}
END_TEST

/* Codes are -errno where the header says so. */
START_TEST(test_codes_are_negated_errno)
{
    ck_assert_int_eq(AX_EINVAL, -EINVAL);
    ck_assert_int_eq(AX_ENOMEM, -ENOMEM);
    ck_assert_int_eq(AX_ECANCELED, -ECANCELED);
    ck_assert_int_eq(AX_ETIMEDOUT, -ETIMEDOUT);
    ck_assert_int_eq(AX_EAGAIN, -EAGAIN);
    ck_assert_int_eq(AX_EBUSY, -EBUSY);
    ck_assert_int_eq(AX_EDEADLK, -EDEADLK);
    ck_assert_int_eq(AX_EALREADY, -EALREADY);
    ck_assert_int_eq(AX_ESRCH, -ESRCH);
    ck_assert_int_eq(AX_EPERM, -EPERM);
    ck_assert_int_eq(AX_ESHUTDOWN, -ESHUTDOWN);
    ck_assert_int_eq(AX_EOVERFLOW, -EOVERFLOW);
}
END_TEST

/* axon's own codes live below -4000; all codes negative and distinct. */
START_TEST(test_own_codes_range_distinct)
{
    ck_assert_int_eq(AX_ENOTTASK, -4001);
    ck_assert_int_eq(AX_EPENDING, -4002);
    ck_assert_int_eq(AX_EWRONGLOOP, -4003);
    ck_assert_int_eq(AX_ENOTACTOR, -4004);
    ck_assert_int_eq(AX_ENESTED, -4005);
    ck_assert_int_eq(AX_EBROKEN, -4006);
    for (size_t i = 0; i < NKNOWN; i++) {
        ck_assert_int_lt(known[i].code, 0);
        for (size_t j = i + 1; j < NKNOWN; j++)
            ck_assert_int_ne(known[i].code, known[j].code);
    }
}
END_TEST

/* A kernel errno passes through unchanged and is named. */
START_TEST(test_kernel_errno_passthrough)
{
    int code = -EINVAL; /* as a syscall wrapper would produce */
    ck_assert_str_eq(ax_err_name(code), "AX_EINVAL");
    ck_assert_str_eq(ax_strerror(-ETIMEDOUT), "operation timed out");
}
END_TEST

/* "Any thread": both functions work from another thread. */
static void *names_in_thread(void *arg)
{
    int *ok = arg;
    *ok = strcmp(ax_strerror(AX_EBUSY), known[5].text) == 0 &&
          known[5].code == AX_EBUSY &&
          strcmp(ax_err_name(AX_EPENDING), "AX_EPENDING") == 0 &&
          strcmp(ax_err_name(-4242), "-4242") == 0;
    return NULL;
}

START_TEST(test_any_thread)
{
    pthread_t th;
    int ok = 0;
    ck_assert_int_eq(pthread_create(&th, NULL, names_in_thread, &ok), 0);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(ok, 1);
}
END_TEST

/* Inside a running loop too (a task's own failure code is named). */
static void *strerror_in_task(void *arg)
{
    (void)arg;
    ck_assert_str_eq(ax_strerror(AX_ECANCELED), "operation canceled");
    ck_assert_str_eq(ax_err_name(-31337), "-31337");
    return NULL;
}

START_TEST(test_inside_task)
{
    AXT_RUN_CLEAN(strerror_in_task, NULL, NULL);
}
END_TEST

Suite *ax_error_suite(void)
{
    Suite *s = suite_create("error");
    TCase *tc = axt_tcase(s, "error");
    tcase_add_test(tc, test_strerror_every_code);
    tcase_add_test(tc, test_err_name_every_code);
    tcase_add_test(tc, test_map_matches_functions);
    tcase_add_test(tc, test_zero_is_success);
    tcase_add_test(tc, test_unknown_codes);
    tcase_add_test(tc, test_errno_fallback);
    tcase_add_test(tc, test_err_register);
    tcase_add_test(tc, test_err_register_threads);
    tcase_add_test(tc, test_report_names_user_codes);
    tcase_add_test(tc, test_never_null);
    tcase_add_test(tc, test_codes_are_negated_errno);
    tcase_add_test(tc, test_own_codes_range_distinct);
    tcase_add_test(tc, test_kernel_errno_passthrough);
    tcase_add_test(tc, test_any_thread);
    tcase_add_test(tc, test_inside_task);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_error_suite());
}
#endif
