/* SPDX-License-Identifier: MIT */
/*
 * 06_gather_calls: gather calls directly; no tasks made by hand.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         return f"{what} - {delay}"
 *
 *     async def main():
 *         print(f"started at {time.strftime('%X')}")
 *         ret1 = await asyncio.gather(say_after(1, 'hello'),
 *                                     say_after(2, 'world'))
 *         print(ret1)
 *         print(f"finished at {time.strftime('%X')}")
 *
 *     asyncio.run(main())
 *
 * asyncio.gather() wraps each coroutine in a task; gather_calls() does the
 * same with C calls (a task body and its argument) and ax_gather()s them.
 */
#include <axon.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A coroutine call not started yet: `say_after(1, 'hello')`. */
struct call { ax_task_fn fn; void *arg; };

/* `await asyncio.gather(*calls)`: a task per call, then one await for all. */
static int gather_calls(const struct call *calls, size_t n, void **results)
{
    ax_future *tasks[16];
    if (n > sizeof tasks / sizeof tasks[0])
        return AX_EINVAL;
    for (size_t i = 0; i < n; i++) {
        ax_task *t;
        int rc = ax_spawn(&t, calls[i].fn, calls[i].arg);
        if (rc != 0) {
            while (i-- > 0) { /* undo: cancel and reap the tasks made so far */
                ax_cancel(tasks[i]);
                ax_await(tasks[i], NULL);
            }
            return rc;
        }
        tasks[i] = ax_task_future(t);
    }
    return ax_gather(tasks, n, results); /* awaits (and releases) them all */
}

struct say { int delay; const char *what; char ret[32]; };

static void *say_after(void *arg)
{
    struct say *s = arg;
    int rc = ax_sleep(s->delay);
    if (rc != 0)
        return ax_task_fail(rc); /* the gather then fails with rc */
    snprintf(s->ret, sizeof s->ret, "%s - %d", s->what, s->delay);
    return s->ret;
}

static void print_clock(const char *label) /* time.strftime('%X') */
{
    static double wall0 = -1; /* the wall clock when ax_now() was 0 */
    struct timespec ts;
    if (wall0 < 0 && timespec_get(&ts, TIME_UTC))
        wall0 = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - ax_now();
    time_t t = (time_t)(wall0 + ax_now()); /* virtual time moves it too */
    char buf[16];
    strftime(buf, sizeof buf, "%H:%M:%S", localtime(&t));
    printf("%s %s\n", label, buf);
}

static void print_list(void *const *strs, size_t n) /* Python's list repr */
{
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s'%s'", i ? ", " : "", (const char *)strs[i]);
    printf("]\n");
}

static void *main_task(void *arg)
{
    (void)arg;
    print_clock("started at");

    struct say hello = {1, "hello", ""}, world = {2, "world", ""};
    struct call calls[] = {{say_after, &hello}, {say_after, &world}};
    void *ret1[2];
    int rc = gather_calls(calls, 2, ret1);
    if (rc != 0) {
        fprintf(stderr, "06_gather_calls: gather: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    print_list(ret1, 2);

    print_clock("finished at");
    if (getenv("AX_EXAMPLE_ELAPSED")) /* hook for tests/check_examples */
        printf("elapsed=%.3f\n", ax_now());
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line as it happens */
    int rc = ax_run(main_task, NULL, NULL);
    if (rc != 0)
        fprintf(stderr, "06_gather_calls: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
