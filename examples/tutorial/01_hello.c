/* SPDX-License-Identifier: MIT */
/*
 * 01_hello: a coroutine that waits in the middle.
 *
 *     import asyncio
 *
 *     async def main():
 *         print("hello")
 *         await asyncio.sleep(1)
 *         print('world')
 *
 *     asyncio.run(main())
 *
 * ax_run() is asyncio.run(): it makes the event loop and runs main_task as
 * its first task. ax_sleep() suspends the task and hands control back to
 * the loop, which wakes it a second later.
 */
#include <axon.h>
#include <stdio.h>
#include <stdlib.h>

static void *main_task(void *arg)
{
    (void)arg;
    printf("hello\n");

    int rc = ax_sleep(1);
    if (rc != 0) {
        fprintf(stderr, "01_hello: ax_sleep: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }

    printf("world\n");

    /* Hook for tests/check_examples: the loop's time at the end. */
    if (getenv("AX_EXAMPLE_ELAPSED"))
        printf("elapsed=%.3f\n", ax_now());
    return NULL;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* show each line as it happens */
    int rc = ax_run(main_task, NULL, NULL);
    if (rc != 0)
        fprintf(stderr, "01_hello: ax_run: %s\n", ax_strerror(rc));
    return rc != 0;
}
