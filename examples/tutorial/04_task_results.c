/* SPDX-License-Identifier: MIT */
/*
 * 04_task_results: awaiting a task gives back what its body returned.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         return f"{what} - {delay}"
 *
 *     async def main():
 *         task1 = asyncio.create_task(say_after(1, 'hello'))
 *         task2 = asyncio.create_task(say_after(2, 'world'))
 *         print(f"started at {time.strftime('%X')}")
 *         ret1 = await task1
 *         ret2 = await task2
 *         print(ret1)
 *         print(ret2)
 *         print(f"finished at {time.strftime('%X')}")
 *
 * The body's `void *` return value is the task's result. Here it points
 * into the task's argument, so nothing needs freeing.
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
    fprintf(stderr, "04_task_results: %s: %s\n", what, ax_strerror(rc));
    return ax_task_fail(rc);
}

struct say { int delay; const char *what; char ret[32]; };

static void *say_after(void *arg)
{
    struct say *s = arg;
    int rc = ax_sleep(s->delay);
    if (rc != 0)
        return ax_task_fail(rc); /* the awaiter gets rc from ax_await() */
    snprintf(s->ret, sizeof s->ret, "%s - %d", s->what, s->delay);
    return s->ret;
}

static void *main_task(void *arg)
{
    (void)arg;
    static struct say hello = {1, "hello", ""}, world = {2, "world", ""};
    ax_task *task1, *task2;
    int rc = ax_spawn(&task1, say_after, &hello);
    if (rc == 0 && (rc = ax_spawn(&task2, say_after, &world)) != 0)
        ax_task_detach(task1); /* give up every handle exactly once */
    if (rc != 0)
        return fail("ax_spawn", rc);
    print_clock("started at");

    void *ret1, *ret2;
    int rc1 = ax_await(task1, &ret1);
    int rc2 = ax_await(task2, &ret2); /* await both: no handle left behind */
    if ((rc = rc1 ? rc1 : rc2) != 0)
        return fail("ax_await", rc);
    printf("%s\n%s\n", (char *)ret1, (char *)ret2);

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
        fprintf(stderr, "04_task_results: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
