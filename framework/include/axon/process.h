/* SPDX-License-Identifier: MIT */
/**
 * @file axon/process.h
 * @brief Subprocesses: spawn a program, talk to it through pipes, await
 * its exit (asyncio.create_subprocess_exec).
 *
 * ax_process_spawn() starts a program with posix_spawn() (no fork of the
 * parent's memory), with its own environment and working directory if
 * asked, and each of stdin, stdout and stderr inherited, connected to
 * /dev/null, or a pipe. A pipe's parent end is an ordinary axon socket
 * (net.h): read it with ax_read()/ax_read_until(), write it with
 * ax_write_all(), with timeouts and deadlines, from tasks of the loop
 * that spawned the process. Closing the stdin pipe
 * (ax_process_close_pipe()) gives the child end of file.
 *
 * No descriptor leaks into the child: axon's own are close-on-exec, and
 * where the C library has posix_spawn_file_actions_addclosefrom_np()
 * (glibc 2.34+) every descriptor above 2 is closed in the child, the
 * application's too. The child starts with every signal at its default
 * action and none blocked, whatever the parent has.
 *
 * A program that cannot be started is an error of the spawn, not a child
 * that exits 127: the program is looked up in PATH (of the parent) first,
 * and posix_spawn() reports exec's own failure. -ENOENT: no such program;
 * -EACCES: not executable; other negated errno values as exec says.
 *
 * Exit: ax_process_wait() suspends the calling task until the child ends.
 * Where the kernel has pidfd_open() (Linux 5.3+) the process's pidfd is
 * registered with the loop like a socket: no signal is involved and
 * SIGCHLD is left entirely to the application. Where it has not (older
 * kernels; valgrind, which does not know the call; or AX_NO_PIDFD=1 in
 * the environment at spawn, for testing), the wait uses
 * ax_signal_wait(SIGCHLD) (signal.h) and waitpid(pid, WNOHANG), re-checked
 * at least every 50 ms: the runtime then catches SIGCHLD until ax_run()
 * returns, replacing a handler the application had installed; an
 * application that reaps with waitpid(-1, ...) itself would steal axon's
 * children in either mode. Only the child's own pid is ever reaped.
 *
 * A process handle belongs to the loop that spawned it: call everything
 * from that loop's thread (the pipes too). It must be freed
 * (ax_process_free()), which closes the pipes and, if the child is still
 * running, kills and reaps it. A freed handle is detected as such
 * (AX_ESRCH) for a while, not forever.
 */
#ifndef AXON_PROCESS_H
#define AXON_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

#include "axon/common.h"
#include "axon/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A child process. */
typedef struct ax_process ax_process;

/** What one of the child's standard descriptors is connected to. */
typedef enum ax_stdio {
    AX_STDIO_INHERIT = 0, /**< the parent's own descriptor (the default) */
    AX_STDIO_PIPE = 1,    /**< a pipe; the parent's end: ax_process_pipe() */
    AX_STDIO_NULL = 2     /**< /dev/null */
} ax_stdio;

/** Options for ax_process_spawn(). Zero-initialise. */
typedef struct ax_process_opts {
    /** The child's environment, "NAME=value" strings ending with NULL;
     *  NULL: the parent's (environ). PATH lookup uses the parent's. */
    const char *const *env;
    /** The child's working directory; NULL: the parent's. With one, give
     *  the program as a name (PATH) or an absolute path: a relative path
     *  is checked from the parent's directory. */
    const char *cwd;
    /** stdin, stdout, stderr (index 0, 1, 2). */
    ax_stdio stdio[3];
} ax_process_opts;

/**
 * Start @p argv[0] with arguments @p argv (NULL-terminated). A name
 * without '/' is looked up in PATH. The handle belongs to the calling
 * loop and to the caller (ax_process_free()).
 * @param opts may be NULL: everything inherited.
 * @return 0 and *out; -ENOENT (no such program), -EACCES (not executable)
 *         and exec's other errors negated (-ENOENT, -ENOTDIR also for
 *         a @p cwd that is no directory); AX_EINVAL (NULL @p out or
 *         @p argv, empty argv or argv[0], an stdio value out of range);
 *         -ENOSYS for @p cwd where the C library cannot set it
 *         (glibc < 2.29); AX_EPERM outside a loop; AX_ENOMEM; AX_EMFILE.
 * Suspends: no (posix_spawn() returns once the child has exec'd).
 */
AX_EXTERN int ax_process_spawn(ax_process **out, const char *const *argv,
                               const ax_process_opts *opts);

/** The child's pid, or AX_EINVAL / AX_ESRCH. Stays valid after the exit
 *  (the number may then name another process). */
AX_EXTERN pid_t ax_process_pid(const ax_process *p);

/**
 * The parent's end of the child's descriptor @p fd (0, 1 or 2) when it
 * was spawned AX_STDIO_PIPE: write to 0, read from 1 and 2. Owned by the
 * process: never ax_close() it; use ax_process_close_pipe().
 * @return the socket; NULL if @p fd is not a pipe (or was closed), or
 *         for a bad handle.
 */
AX_EXTERN ax_sock *ax_process_pipe(ax_process *p, int fd);

/**
 * Close the parent's end of pipe @p fd: for 0 the child reads end of
 * file; for 1 and 2 its further writes fail (EPIPE, or SIGPIPE in the
 * child).
 * @return 0; AX_EBUSY if a task is reading or writing it; AX_EINVAL (@p
 *         fd not an open pipe, NULL); AX_ESRCH; AX_EWRONGLOOP.
 */
AX_EXTERN int ax_process_close_pipe(ax_process *p, int fd);

/**
 * Send signal @p sig to the child (through its pidfd where there is one,
 * so a recycled pid is never hit).
 * @return 0; AX_EALREADY if the child has been reaped (a wait returned its
 *         status); AX_EINVAL (bad signal, NULL); AX_ESRCH (freed
 *         handle); the kernel's error.
 * Suspends: no.
 */
AX_EXTERN int ax_process_kill(ax_process *p, int sig);

/**
 * Wait for the child to end, at most @p timeout seconds (negative: no
 * limit). The status is kept: later waits return it again at once.
 * @param status receives the wait status (WIFEXITED(), WEXITSTATUS(),
 *               WIFSIGNALED(), WTERMSIG() of <sys/wait.h>); may be NULL.
 * @return 0; AX_ETIMEDOUT (the child still runs; kill it and wait
 *         again); AX_ECANCELED; AX_EBUSY (another task is waiting for
 *         it); AX_EINVAL; AX_ESRCH (freed handle); AX_ENOTTASK;
 *         AX_EWRONGLOOP.
 * Suspends: until the child ends.
 */
AX_EXTERN int ax_process_wait(ax_process *p, int *status, double timeout);

/** ax_process_wait() until the absolute @p deadline (-1: none). A child
 *  that has already ended is reaped even past the deadline.
 *  @return as ax_process_wait(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_process_wait_dl(ax_process *p, int *status,
                                 int64_t deadline);

/**
 * Free the handle: close the pipes still open; a child still running is
 * sent SIGKILL and reaped here (this blocks the loop for as long as the
 * kernel takes to end it, normally well under a millisecond). Wait first
 * to let it finish.
 * @return 0; AX_EBUSY if a task waits on the process or one of its pipes
 *         (the handle stays valid; pipes not in use may have been
 *         closed); AX_EINVAL for NULL; AX_ESRCH if already freed;
 *         AX_EWRONGLOOP.
 */
AX_EXTERN int ax_process_free(ax_process *p);

#ifdef __cplusplus
}
#endif
#endif
