/* SPDX-License-Identifier: MIT */
/*
 * 05_gather_tasks: one await for many tasks, results in argument order.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         return f"{what} - {delay}"
 *
 *     async def main():
 *         task1 = asyncio.create_task(say_after(1, 'hello'))
 *         task2 = asyncio.create_task(say_after(2, 'world'))
 *         print(f"started at {time.strftime('%X')}")
 *         ret1 = await asyncio.gather(task1, task2)
 *         print(ret1)
 *         print(f"finished at {time.strftime('%X')}")
 *
 * ax_gather() takes futures; a task's is ax_task_future(t). The gather
 * awaits the tasks for us, so their handles are given up to it.
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

static void print_list(void *const *strs, size_t n) /* Python's list repr */
{
    printf("[");
    for (size_t i = 0; i < n; i++)
        printf("%s'%s'", i ? ", " : "", (const char *)strs[i]);
    printf("]\n");
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

static void *main_task(void *arg)
{
    (void)arg;
    static struct say hello = {1, "hello", ""}, world = {2, "world", ""};
    ax_task *task1, *task2;
    int rc = ax_spawn(&task1, say_after, &hello);
    if (rc == 0 && (rc = ax_spawn(&task2, say_after, &world)) != 0)
        ax_task_detach(task1); /* give up every handle exactly once */
    if (rc != 0) {
        fprintf(stderr, "05_gather_tasks: ax_spawn: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    print_clock("started at");

    ax_future *tasks[] = {ax_task_future(task1), ax_task_future(task2)};
    void *ret1[2];
    if ((rc = ax_gather(tasks, 2, ret1)) != 0) {
        fprintf(stderr, "05_gather_tasks: ax_gather: %s\n", ax_strerror(rc));
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
        fprintf(stderr, "05_gather_tasks: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
