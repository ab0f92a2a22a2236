/* SPDX-License-Identifier: MIT */
/*
 * 02_sequential: awaiting coroutines one after the other takes 1 + 2 = 3 s.
 *
 *     async def say_after(delay, what):
 *         await asyncio.sleep(delay)
 *         print(what)
 *
 *     async def main():
 *         print(f"started at {time.strftime('%X')}")
 *         await say_after(1, 'hello')
 *         await say_after(2, 'world')
 *         print(f"finished at {time.strftime('%X')}")
 *
 *     asyncio.run(main())
 *
 * A task is stackful, so `await coro` is simply a C call made inside the
 * task: say_after() suspends the whole task while it sleeps.
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

static int say_after(double delay, const char *what)
{
    int rc = ax_sleep(delay); /* suspends main_task, the caller */
    if (rc != 0)
        return rc;
    printf("%s\n", what);
    return 0;
}

static void *main_task(void *arg)
{
    (void)arg;
    print_clock("started at");

    int rc = say_after(1, "hello");
    if (rc == 0)
        rc = say_after(2, "world");
    if (rc != 0) {
        fprintf(stderr, "02_sequential: say_after: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }

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
        fprintf(stderr, "02_sequential: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
