/* check_error.c: tests for axon/error.h (ax_strerror, ax_err_name, codes). */
#include <limits.h>
#include <pthread.h>

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
    {AX_EPIPE, "AX_EPIPE", "broken pipe or stream ended"},
    {AX_ECONNRESET, "AX_ECONNRESET", "connection reset by peer"},
    {AX_ECONNREFUSED, "AX_ECONNREFUSED", "connection refused"},
    {AX_EADDRINUSE, "AX_EADDRINUSE", "address already in use"},
    {AX_EMFILE, "AX_EMFILE", "too many open files"},
    {AX_ENFILE, "AX_ENFILE", "too many open files in system"},
    {AX_E2BIG, "AX_E2BIG", "too long"},
    {AX_EBADF, "AX_EBADF", "bad descriptor"},
    {AX_ENAME, "AX_ENAME",
     "host name not resolved (use a numeric address or localhost)"},
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

/* Unknown codes (a task's own -777, -4000 just above axon's range, -4099
 * unused in it, INT_MIN, and positive values): "unknown error" and "AX_E?",
 * never NULL. */
START_TEST(test_unknown_codes)
{
    const int bad[] = {-777, -4000, -4099, -99999, INT_MIN, 1, 12345, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_ptr_nonnull(ax_strerror(bad[i]));
        ck_assert_ptr_nonnull(ax_err_name(bad[i]));
        ck_assert_msg(strcmp(ax_strerror(bad[i]), "unknown error") == 0,
                      "ax_strerror(%d) = \"%s\"", bad[i], ax_strerror(bad[i]));
        ck_assert_msg(strcmp(ax_err_name(bad[i]), "AX_E?") == 0,
                      "ax_err_name(%d) = \"%s\"", bad[i], ax_err_name(bad[i]));
    }
}
END_TEST

/* Kernel errors axon has no name for pass through with the C library's
 * text (ENOENT here), but keep the unknown name. */
START_TEST(test_errno_fallback)
{
    ck_assert_str_eq(ax_strerror(-ENOENT), "No such file or directory");
    ck_assert_str_eq(ax_err_name(-ENOENT), "AX_E?");
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
}
END_TEST

/* axon's own codes live below -4000; all codes negative and distinct. */
START_TEST(test_own_codes_range_distinct)
{
    ck_assert_int_eq(AX_ENOTTASK, -4001);
    ck_assert_int_eq(AX_EPENDING, -4002);
    ck_assert_int_eq(AX_EWRONGLOOP, -4003);
    ck_assert_int_eq(AX_ENOTACTOR, -4004);
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
          strcmp(ax_err_name(-4242), "AX_E?") == 0;
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
    ck_assert_str_eq(ax_err_name(-31337), "AX_E?");
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
