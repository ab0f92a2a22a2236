/* SPDX-License-Identifier: MIT */
/*
 * 03_tasks: two tasks sleep at the same time, so this takes 2 s, not 3.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *
 *     async def main():
 *         task1 = asyncio.create_task(say_after(1, 'hello'))
 *         task2 = asyncio.create_task(say_after(2, 'world'))
 *         print(f"started at {time.strftime('%X')}")
 *         await task1
 *         await task2
 *         print(f"finished at {time.strftime('%X')}")
 *
 * ax_spawn() is create_task(): the task is queued but does not run until
 * main suspends in ax_await(). Awaiting a task gives up its handle.
 */
#include <axon.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

static void *fail(const char *what, int rc)
{
    fprintf(stderr, "03_tasks: %s: %s\n", what, ax_strerror(rc));
    return ax_task_fail(rc);
}

struct say { double delay; const char *what; };

static void *say_after(void *arg)
{
    const struct say *s = arg;
    int rc = ax_sleep(s->delay);
    if (rc != 0)
        return ax_task_fail(rc); /* the awaiter gets rc from ax_await() */
    printf("%s\n", s->what);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    static struct say hello = {1, "hello"}, world = {2, "world"};
    ax_task *task1, *task2;
    int rc = ax_spawn(&task1, say_after, &hello);
    if (rc == 0 && (rc = ax_spawn(&task2, say_after, &world)) != 0)
        ax_task_detach(task1); /* give up every handle exactly once */
    if (rc != 0)
        return fail("ax_spawn", rc);
    print_clock("started at");

    int rc1 = ax_await(task1, NULL);
    int rc2 = ax_await(task2, NULL); /* await both: no handle left behind */
    if ((rc = rc1 ? rc1 : rc2) != 0)
        return fail("ax_await", rc);

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
        fprintf(stderr, "03_tasks: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
