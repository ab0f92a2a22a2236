/* SPDX-License-Identifier: MIT */
/*
 * check_examples: run every program in examples/ on the virtual clock and
 * compare its output with what the asyncio version prints.
 *
 * Each example is started with fork/execv from $EXAMPLES_DIR (set by
 * `make check`; "./examples" otherwise) with AX_VIRTUAL_CLOCK=1, so its
 * sleeps complete at once and ax_now() moves by exactly the time slept,
 * and AX_EXAMPLE_ELAPSED=1, so it prints a last line "elapsed=S.SSS" with
 * the loop's time at the end. The test checks the exit status, that
 * nothing was written to stderr (axon's teardown reports go there), every
 * line in order, the "HH:MM:SS" shape of the clock lines and that they are
 * as far apart as the virtual time says, and the elapsed time: 3 s when the
 * sleeps run one after the other, 2 s when they run concurrently.
 * 07, 08 and 10 run on several loops (threads): 08's and 10's output is
 * fixed all the same; for 07 the test checks the exact set of lines and the order that
 * is fixed (see test_07_loops_gather).
 *
 * The programs may be libtool wrapper scripts: execv() runs a script with
 * a #! line; one without is handed to /bin/sh.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <axon.h> /* AX_LOOPS_MAX */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LINES 16
#define CLOCK_MARK "HH:MM:SS" /* in an expected line: any wall-clock time */

struct expect {
    const char *name;
    const char *lines[MAX_LINES]; /* NULL-terminated, "elapsed=" excluded */
    const char *elapsed;          /* the value printed after "elapsed=" */
};

static const struct expect examples[] = {
    {"01_hello", {"hello", "world", NULL}, "1.000"},
    {"02_sequential",
     {"started at " CLOCK_MARK, "hello", "world", "finished at " CLOCK_MARK,
      NULL},
     "3.000"},
    {"03_tasks",
     {"started at " CLOCK_MARK, "hello", "world", "finished at " CLOCK_MARK,
      NULL},
     "2.000"},
    {"04_task_results",
     {"started at " CLOCK_MARK, "hello - 1", "world - 2",
      "finished at " CLOCK_MARK, NULL},
     "2.000"},
    {"05_gather_tasks",
     {"started at " CLOCK_MARK, "['hello - 1', 'world - 2']",
      "finished at " CLOCK_MARK, NULL},
     "2.000"},
    {"06_gather_calls",
     {"started at " CLOCK_MARK, "['hello - 1', 'world - 2']",
      "finished at " CLOCK_MARK, NULL},
     "2.000"},
    {"10_queue_pipeline",
     {"2 producers on loop 0 put 100 items",
      "3 consumers on loop 1 got 100 items, sum 5050", NULL},
     "0.000"},
    {"11_crawler",
     {"url 2: fetched in 0.200 s", "url 0: fetched in 0.300 s",
      "url 3: fetched in 0.700 s", "url 1: timed out after 1.000 s",
      "url 6: fetched in 0.100 s", "url 4: timed out after 1.000 s",
      "url 5: fetched in 0.500 s", "url 7: timed out after 1.000 s",
      "5 fetched, 3 timed out, at most 3 at a time", NULL},
     "2.100"},
    {"08_actors", {"counter on loop 1 says 5050", NULL}, "0.000"},
    {"09_supervisor",
     {"10 + 5 = 15", "bad request: AX_EINVAL, the server crashed",
      "restarted: 10 + 1 = 11", NULL},
     "0.010"},
};

struct run {
    int status;      /* from waitpid() */
    char out[16384]; /* stdout, NUL-terminated (truncated if longer) */
    char err[16384]; /* stderr, likewise */
};

/* Read everything from fd into buf (NUL-terminated); excess is dropped. */
static void slurp_fd(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        char tmp[4096];
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        size_t keep = (size_t)n;
        if (keep > size - 1 - len)
            keep = size - 1 - len;
        memcpy(buf + len, tmp, keep);
        len += keep;
    }
    buf[len] = '\0';
}

/* Run the example @name with the test environment; fill @r. */
static void run_example(const char *name, struct run *r)
{
    const char *dir = getenv("EXAMPLES_DIR");
    if (dir == NULL || *dir == '\0')
        dir = "./examples";
    char path[4096];
    ck_assert_int_lt(snprintf(path, sizeof path, "%s/tutorial/%s", dir, name),
                     (int)sizeof path);
    ck_assert_msg(access(path, X_OK) == 0,
                  "%s: %s (build the examples or set EXAMPLES_DIR)", path,
                  strerror(errno));

    int out[2];
    ck_assert_int_eq(pipe(out), 0);
    FILE *err = tmpfile(); /* a file, so a chatty stderr cannot block */
    ck_assert_ptr_nonnull(err);
    fflush(NULL);

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        close(out[0]);
        close(out[1]);
        setenv("AX_VIRTUAL_CLOCK", "1", 1);
        setenv("AX_EXAMPLE_ELAPSED", "1", 1);
        alarm(30); /* survives exec: a hung example dies of SIGALRM */
        char *argv[] = {path, NULL};
        execv(path, argv);
        if (errno == ENOEXEC)
            execl("/bin/sh", "sh", path, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(out[1]);
    slurp_fd(out[0], r->out, sizeof r->out);
    close(out[0]);
    while (waitpid(pid, &r->status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    rewind(err);
    size_t n = fread(r->err, 1, sizeof r->err - 1, err);
    r->err[n] = '\0';
    fclose(err);
}

/* Split @text in place into at most @max lines; return how many. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    while (*text != '\0' && n < max) {
        lines[n++] = text;
        char *nl = strchr(text, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        text = nl + 1;
    }
    return n;
}

/* Parse "HH:MM:SS" exactly; return seconds since midnight or -1. */
static long parse_hms(const char *s)
{
    if (strlen(s) != 8 || s[2] != ':' || s[5] != ':')
        return -1;
    for (int i = 0; i < 8; i++)
        if (i != 2 && i != 5 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    int m = (s[3] - '0') * 10 + (s[4] - '0');
    int sec = (s[6] - '0') * 10 + (s[7] - '0');
    if (h > 23 || m > 59 || sec > 60)
        return -1;
    return h * 3600L + m * 60L + sec;
}

static void check_example(const struct expect *ex)
{
    static struct run r; /* large: keep it off the stack */
    memset(&r, 0, sizeof r);
    run_example(ex->name, &r);
    char out_copy[sizeof r.out];
    memcpy(out_copy, r.out, sizeof out_copy);

    ck_assert_msg(WIFEXITED(r.status),
                  "%s: killed by signal %d\nstdout:\n%s\nstderr:\n%s",
                  ex->name, WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0,
                  r.out, r.err);
    ck_assert_msg(WEXITSTATUS(r.status) == 0,
                  "%s: exit status %d\nstdout:\n%s\nstderr:\n%s", ex->name,
                  WEXITSTATUS(r.status), r.out, r.err);
    ck_assert_msg(r.err[0] == '\0', "%s: unexpected stderr:\n%s", ex->name,
                  r.err);
    size_t len = strlen(r.out);
    ck_assert_msg(len > 0 && r.out[len - 1] == '\n',
                  "%s: output does not end with a newline:\n%s", ex->name,
                  r.out);

    char *lines[MAX_LINES + 2];
    size_t n = split_lines(r.out, lines, MAX_LINES + 2);
    size_t want = 0;
    while (ex->lines[want] != NULL)
        want++;
    ck_assert_msg(n == want + 1, "%s: %zu lines, expected %zu:\n%s",
                  ex->name, n, want + 1, out_copy);

    long started = -1, finished = -1;
    for (size_t i = 0; i < want; i++) {
        const char *exp = ex->lines[i];
        const char *mark = strstr(exp, CLOCK_MARK);
        if (mark == NULL) {
            ck_assert_msg(strcmp(lines[i], exp) == 0,
                          "%s: line %zu is \"%s\", expected \"%s\"\n%s",
                          ex->name, i + 1, lines[i], exp, out_copy);
            continue;
        }
        size_t prefix = (size_t)(mark - exp);
        long t = strncmp(lines[i], exp, prefix) == 0
                     ? parse_hms(lines[i] + prefix)
                     : -1;
        ck_assert_msg(t >= 0, "%s: line %zu is \"%s\", expected \"%s\"\n%s",
                      ex->name, i + 1, lines[i], exp, out_copy);
        if (strncmp(exp, "started", 7) == 0)
            started = t;
        else
            finished = t;
    }

    char elapsed[32];
    snprintf(elapsed, sizeof elapsed, "elapsed=%s", ex->elapsed);
    ck_assert_msg(strcmp(lines[want], elapsed) == 0,
                  "%s: last line is \"%s\", expected \"%s\"\n%s", ex->name,
                  lines[want], elapsed, out_copy);

    /* The clock lines follow the loop's (virtual) time. */
    if (started >= 0 && finished >= 0) {
        long span = ((finished - started) % 86400 + 86400) % 86400;
        long expect = strtol(ex->elapsed, NULL, 10);
        ck_assert_msg(span == expect,
                      "%s: started and finished are %ld s apart, "
                      "expected %ld\n%s",
                      ex->name, span, expect, out_copy);
    }
}

START_TEST(test_01_hello) { check_example(&examples[0]); }
END_TEST

START_TEST(test_02_sequential) { check_example(&examples[1]); }
END_TEST

START_TEST(test_03_tasks) { check_example(&examples[2]); }
END_TEST

START_TEST(test_04_task_results) { check_example(&examples[3]); }
END_TEST

START_TEST(test_05_gather_tasks) { check_example(&examples[4]); }
END_TEST

START_TEST(test_06_gather_calls) { check_example(&examples[5]); }
END_TEST

/* 07: ten workers spread over one loop per CPU. Worker i runs on loop
 * i % L, so the set of "work" lines is known exactly; the loops print at
 * the same time, so only their order within one loop is fixed: the workers
 * of a loop arm equal deadlines in spawn order and the virtual clock fires
 * ties in the order armed. The gathered list comes back in argument order,
 * on loop 0, whose clock has moved by the one sleep of 0.1 s. */
START_TEST(test_07_loops_gather)
{
    static struct run r;
    char *lines[MAX_LINES + 2], want[128];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN); /* as AX_LOOPS_PER_CPU */
    int loops = cpus < 1 ? 1 : cpus > AX_LOOPS_MAX ? AX_LOOPS_MAX : (int)cpus;
    int last_on[AX_LOOPS_MAX], seen[10] = {0};

    run_example("07_loops_gather", &r);
    ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
                  "status %d, stderr: %s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    ck_assert_msg(split_lines(r.out, lines, MAX_LINES + 2) == 12,
                  "expected 12 lines");
    for (int l = 0; l < loops; l++)
        last_on[l] = -1;
    for (int k = 0; k < 10; k++) {
        int i, l, end = 0;
        ck_assert_msg(sscanf(lines[k], "work(%d) ran on loop %d%n", &i, &l,
                             &end) == 2 &&
                          lines[k][end] == '\0' && i >= 0 && i < 10,
                      "line %d: \"%s\"", k + 1, lines[k]);
        ck_assert_msg(seen[i]++ == 0, "work(%d) printed twice", i);
        ck_assert_msg(l == i % loops, "work(%d) ran on loop %d, not %d", i, l,
                      i % loops);
        ck_assert_msg(i > last_on[l], "loop %d: work(%d) after work(%d)", l, i,
                      last_on[l]);
        last_on[l] = i;
    }
    snprintf(want, sizeof want,
             "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81] on %d loops, "
             "back on loop 0",
             loops);
    ck_assert_str_eq(lines[10], want);
    ck_assert_str_eq(lines[11], "elapsed=0.100");
}
END_TEST

/* 10: a queue between producers on loop 0 and consumers on loop 1; the
 * split between consumers varies, the totals do not. No virtual time. */
START_TEST(test_10_queue_pipeline) { check_example(&examples[6]); }
END_TEST

/* 11: eight fetches, three at a time, one second each: the virtual clock
 * fixes the order they finish or time out in (no two at the same time). */
START_TEST(test_11_crawler) { check_example(&examples[7]); }
END_TEST

/* 08: the counter actor on the last of two loops sums 1..100; the answer
 * beats the ask's 1 s timeout, so virtual time does not move. */
START_TEST(test_08_actors) { check_example(&examples[8]); }
END_TEST

/* 09: a supervised counter server crashes on a bad request and comes back
 * with its initial state; the only virtual time is the 10 ms pause. */
START_TEST(test_09_supervisor) { check_example(&examples[9]); }
END_TEST

Suite *ax_examples_suite(void);

Suite *ax_examples_suite(void)
{
    Suite *s = suite_create("examples");
    TCase *tc = tcase_create("virtual_clock");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_01_hello);
    tcase_add_test(tc, test_02_sequential);
    tcase_add_test(tc, test_03_tasks);
    tcase_add_test(tc, test_04_task_results);
    tcase_add_test(tc, test_05_gather_tasks);
    tcase_add_test(tc, test_06_gather_calls);
    tcase_add_test(tc, test_07_loops_gather);
    tcase_add_test(tc, test_10_queue_pipeline);
    tcase_add_test(tc, test_11_crawler);
#if AXON_HAVE_ACTORS /* configure --disable-actors builds neither 08 nor 09 */
    tcase_add_test(tc, test_08_actors);
    tcase_add_test(tc, test_09_supervisor);
#endif
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(ax_examples_suite());
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, CK_FORK, ... apply */
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
