/* SPDX-License-Identifier: MIT */
/* check_overflow.c: a task's stack overflow hits the guard page and the
 * process dies with SIGABRT after printing a message naming the task
 * (axon/task.h). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_overflow_suite(void);

/* Sanitizers and valgrind replace or intercept the SIGSEGV handling the
 * guard page relies on, so the tests skip there (AXT_SKIP: the program then
 * reports SKIP, exit 77). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AXT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define AXT_SANITIZED 1
#endif
#endif
#ifndef AXT_SANITIZED
#define AXT_SANITIZED 0
#endif

static const char *skip_reason(void)
{
    if (AXT_SANITIZED)
        return "built with a sanitizer";
    if (getenv("AX_UNDER_VALGRIND") != NULL)
        return "AX_UNDER_VALGRIND is set";
    return NULL;
}

/* 1 KiB per frame, used after the recursive call so it is neither a tail
 * call nor optimised away. The bound is never reached: 1e6 KiB is far
 * beyond any task stack. */
static int recurse(int depth)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    if (depth > 1000000)
        return frame[0];
    return recurse(depth + 1) + frame[depth % (int)sizeof frame];
}

static void *deep_body(void *arg)
{
    (void)arg;
    return AXT_P(recurse(0));
}

static void *main_overflows(void *arg)
{
    ax_task *t = NULL;
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.name = "deep";
    if (ax_spawn_with(&t, deep_body, NULL, &o) != 0)
        return ax_task_fail(AX_ENOMEM);
    ax_await(t, NULL);
    return NULL;
}

/* Run fn in a forked child with its stderr captured; return the wait
 * status and the text in buf. */
static int run_child_capture(void (*fn)(void), char *buf, size_t n)
{
    int fds[2];
    pid_t pid;
    size_t len = 0;
    int status = 0;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn();
        _exit(0); /* not reached if the overflow is caught */
    }
    close(fds[1]);
    for (;;) {
        ssize_t r = read(fds[0], buf + len, n - 1 - len);
        if (r > 0) {
            len += (size_t)r;
            if (len == n - 1)
                break;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        break;
    }
    buf[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    return status;
}

static void child_overflow(void)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    ax_run_with(&o, main_overflows, NULL, NULL);
    _exit(3); /* the overflow went unnoticed */
}

/* A task named 'deep' recursing 1 KiB per frame overflows its stack: the
 * process dies by SIGABRT and stderr names the task. */
START_TEST(test_stack_overflow_names_task)
{
    static char text[16384];
    const char *why = skip_reason();
    int st;

    if (why != NULL)
        AXT_SKIP(why);
    st = run_child_capture(child_overflow, text, sizeof text);
    ck_assert_msg(WIFSIGNALED(st),
                  "child was not killed by a signal (exit status %d); "
                  "stderr:\n%s",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1, text);
    ck_assert_msg(WTERMSIG(st) == SIGABRT,
                  "child died by signal %d, not SIGABRT; stderr:\n%s",
                  WTERMSIG(st), text);
    ck_assert_msg(strstr(text, "stack overflow in task 'deep'") != NULL,
                  "stderr lacks \"stack overflow in task 'deep'\":\n%s", text);
}
END_TEST

static void *main_overflow_in_second(void *arg)
{
    ax_task *ok = NULL, *t = NULL;
    ax_task_opts o;
    (void)arg;
    memset(&o, 0, sizeof o);
    /* a first task that ends normally, so the overflowing one may reuse a
     * pooled stack: its guard page must still be there */
    o.name = "fine";
    if (ax_spawn_with(&ok, axt_return_arg, NULL, &o) != 0)
        return ax_task_fail(AX_ENOMEM);
    ax_await(ok, NULL);
    o.name = "deeper";
    o.stack_size = 128 * 1024;
    if (ax_spawn_with(&t, deep_body, NULL, &o) != 0)
        return ax_task_fail(AX_ENOMEM);
    ax_await(t, NULL);
    return NULL;
}

static void child_overflow_second(void)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    ax_run_with(&o, main_overflow_in_second, NULL, NULL);
    _exit(3);
}

/* The same with a custom stack size and after another task ended: the
 * guard page is there and the message names 'deeper'. */
START_TEST(test_stack_overflow_custom_size)
{
    static char text[16384];
    const char *why = skip_reason();
    int st;

    if (why != NULL)
        AXT_SKIP(why);
    st = run_child_capture(child_overflow_second, text, sizeof text);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "child did not die by SIGABRT (status 0x%x); stderr:\n%s",
                  st, text);
    ck_assert_msg(strstr(text, "stack overflow in task 'deeper'") != NULL,
                  "stderr lacks \"stack overflow in task 'deeper'\":\n%s",
                  text);
}
END_TEST

static void *brief_sleep(void *arg)
{
    ax_sleep(0.001);
    return arg;
}

#define COLD_FAN 600
static void *main_overflow_on_cold_stack(void *arg)
{
    static ax_task *ts[COLD_FAN];
    ax_task *t = NULL;
    ax_task_opts o;
    (void)arg;
    /* Enough stacks that, once they are all free, whole slabs of them are
     * given back to the kernel (stack.c: MADV_FREE); the overflowing task
     * then runs on one of those reused stacks. */
    for (int i = 0; i < COLD_FAN; i++)
        if (ax_spawn(&ts[i], brief_sleep, NULL) != 0)
            return ax_task_fail(AX_ENOMEM);
    for (int i = 0; i < COLD_FAN; i++)
        ax_await(ts[i], NULL);
    memset(&o, 0, sizeof o);
    o.name = "reborn";
    if (ax_spawn_with(&t, deep_body, NULL, &o) != 0)
        return ax_task_fail(AX_ENOMEM);
    ax_await(t, NULL);
    return NULL;
}

static void child_overflow_cold(void)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    ax_run_with(&o, main_overflow_on_cold_stack, NULL, NULL);
    _exit(3);
}

/* After 600 tasks ended and their stacks went back to the loop's cache
 * (and their memory to the kernel), a task that overflows a reused stack
 * still hits its guard: SIGABRT and a message naming 'reborn'. */
START_TEST(test_stack_overflow_on_reused_stack)
{
    static char text[16384];
    const char *why = skip_reason();
    int st;

    if (why != NULL)
        AXT_SKIP(why);
    st = run_child_capture(child_overflow_cold, text, sizeof text);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "child did not die by SIGABRT (status 0x%x); stderr:\n%s",
                  st, text);
    ck_assert_msg(strstr(text, "stack overflow in task 'reborn'") != NULL,
                  "stderr lacks \"stack overflow in task 'reborn'\":\n%s",
                  text);
}
END_TEST

/* One 250 KiB frame on a 64 KiB stack: its far (lowest) end is 186 KiB
 * below the stack's bottom. The slab repeats [60 KiB guard][64 KiB stack],
 * so that end is past our guard, past the next stack and past its guard,
 * inside a live neighbour's stack: only a prologue that probes page by
 * page (-fstack-clash-protection) faults in our guard first. (A 200 KiB
 * frame would end in the neighbour's guard and fault without probing.) */
#define BIG_FRAME (250 * 1024)

static void *big_frame_body(void *arg)
{
    volatile char big[BIG_FRAME];
    big[0] = 1;
    big[BIG_FRAME - 1] = 2;
    return AXT_P(big[0] + big[BIG_FRAME - 1] + (int)AXT_I(arg));
}

static void *sleeper(void *arg)
{
    (void)arg;
    ax_sleep(10);
    return NULL;
}

static void *main_big_frame(void *arg)
{
    ax_task *near[8], *t = NULL;
    ax_task_opts o;
    (void)arg;
    /* Neighbours parked in the same slab, below the big frame's stack:
     * what an unprobed frame would overwrite. */
    for (int i = 0; i < 8; i++)
        if (ax_spawn(&near[i], sleeper, NULL) != 0)
            return ax_task_fail(AX_ENOMEM);
    memset(&o, 0, sizeof o);
    o.name = "bigframe";
    if (ax_spawn_with(&t, big_frame_body, NULL, &o) != 0)
        return ax_task_fail(AX_ENOMEM);
    ax_await(t, NULL);
    return NULL;
}

static void child_big_frame(void)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    ax_run_with(&o, main_big_frame, NULL, NULL);
    _exit(3); /* the frame went somewhere it should not have */
}

/* A 250 KiB local array in a task with the default 64 KiB stack dies in
 * the guard region with the message naming the task, never writing into
 * the neighbouring stacks. */
START_TEST(test_large_frame_hits_guard_names_task)
{
    static char text[16384];
    const char *why = skip_reason();
    int st;

    if (why != NULL)
        AXT_SKIP(why);
    st = run_child_capture(child_big_frame, text, sizeof text);
    ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
                  "child did not die by SIGABRT (status 0x%x); stderr:\n%s",
                  st, text);
    ck_assert_msg(strstr(text, "stack overflow in task 'bigframe'") != NULL,
                  "stderr lacks \"stack overflow in task 'bigframe'\":\n%s",
                  text);
}
END_TEST

static void *main_big_frame_fits(void *arg)
{
    ax_task *t = NULL;
    ax_task_opts o;
    void *r = NULL;
    (void)arg;
    memset(&o, 0, sizeof o);
    o.name = "roomy";
    o.stack_size = 2 * BIG_FRAME + 64 * 1024;
    axt_assert_rc(ax_spawn_with(&t, big_frame_body, AXT_P(4), &o), 0);
    axt_assert_rc(ax_await(t, &r), 0);
    ck_assert_int_eq(AXT_I(r), 7);
    return NULL;
}

/* The same frame in a task given a stack large enough for it just works. */
START_TEST(test_large_frame_with_big_stack_works)
{
    AXT_RUN_CLEAN(main_big_frame_fits, NULL, NULL);
}
END_TEST

Suite *ax_overflow_suite(void)
{
    Suite *s = suite_create("overflow");
    TCase *tc = axt_tcase(s, "overflow");
    tcase_add_test(tc, test_stack_overflow_names_task);
    tcase_add_test(tc, test_stack_overflow_custom_size);
    tcase_add_test(tc, test_large_frame_hits_guard_names_task);
    tcase_add_test(tc, test_large_frame_with_big_stack_works);
    tcase_add_test(tc, test_stack_overflow_on_reused_stack);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_overflow_suite());
}
#endif
