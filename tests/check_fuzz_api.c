/* SPDX-License-Identifier: MIT */
/*
 * The API-sequence fuzzer's program interpreter (tests/fuzz/fuzz_api.c)
 * without libFuzzer: every input kept in tests/fuzz/api-regress/ (inputs
 * that once broke an invariant) is replayed, then a fixed set of
 * pseudo-random programs, in every `make check` of every configuration.
 * A broken invariant aborts, which fails the test; the message names the
 * file or the program's number (AXT_FUZZ_PROGRAM=n replays one).
 */
#include "axtest.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "fuzz/fuzz_api.c"

Suite *ax_fuzz_api_suite(void);

#ifndef AX_FUZZ_REGRESS_DIR
#define AX_FUZZ_REGRESS_DIR "tests/fuzz/api-regress"
#endif

START_TEST(test_regressions)
{
    DIR *d = opendir(AX_FUZZ_REGRESS_DIR);
    struct dirent *e;
    int n = 0;

    ck_assert_msg(d != NULL, "no %s", AX_FUZZ_REGRESS_DIR);
    while ((e = readdir(d))) {
        char path[4096], buf[65536];
        FILE *f;
        size_t len;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", AX_FUZZ_REGRESS_DIR, e->d_name);
        ck_assert_msg((f = fopen(path, "rb")) != NULL, "open %s", path);
        len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fprintf(stderr, "replaying %s (%zu bytes)\n", e->d_name, len);
        fz_run((const uint8_t *)buf, len);
        n++;
    }
    closedir(d);
    /* The directory holds at least the seed programs. */
    ck_assert_int_gt(n, 0);
}
END_TEST

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Program number @p i: 2..257 bytes from a seed of its own. */
static size_t program(int i, uint8_t *buf)
{
    uint64_t s = 0x9e3779b97f4a7c15u * (uint64_t)(i + 1);
    size_t len = 2 + xorshift(&s) % 256;

    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(xorshift(&s) >> 24);
    return len;
}

/* The program running, named when an invariant aborts it. */
static volatile sig_atomic_t current = -1;

static void on_abort(int sig)
{
    char msg[64];
    int n = snprintf(msg, sizeof msg, "check_fuzz_api: program %d\n",
                     (int)current);

    if (n > 0 && write(2, msg, (size_t)n) < 0)
        n = 0;
    signal(sig, SIG_DFL);
    raise(sig);
}

START_TEST(test_random_programs)
{
    const char *one = getenv("AXT_FUZZ_PROGRAM");
    int first = one ? atoi(one) : 0, last = one ? first + 1 : 400;
    uint8_t buf[300];

    signal(SIGABRT, on_abort);
    for (int i = first; i < last; i++) {
        size_t len = program(i, buf);
        current = i;
        fz_run(buf, len);
    }
    signal(SIGABRT, SIG_DFL);
    /* A program ran to its end in a clean runtime: the hook saw it all. */
    ck_assert_int_eq(atomic_load(&fz_live), 0);
}
END_TEST

Suite *ax_fuzz_api_suite(void)
{
    Suite *s = suite_create("fuzz_api");
    TCase *tc = tcase_create("replay");

    /* A hang guard only: hundreds of runtimes under valgrind. */
    tcase_set_timeout(tc, 10 * AXT_TIMEOUT);
    tcase_add_test(tc, test_regressions);
    tcase_add_test(tc, test_random_programs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return ax_test_main(ax_fuzz_api_suite());
}
