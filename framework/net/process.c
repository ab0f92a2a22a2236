/* SPDX-License-Identifier: MIT */
/*
 * Subprocesses.
 *
 * Spawning is posix_spawn(): glibc runs the child with CLONE_VM|CLONE_VFORK,
 * so nothing of the parent's memory is copied however large it is, no
 * atfork handler runs, and exec's failure comes back as the return value.
 * Under valgrind (which turns that clone into a fork) that report can be
 * lost, so the program is first looked up in the parent: a missing or
 * non-executable program is refused before any child exists.
 *
 * The exit is awaited through a pidfd registered with the loop like a
 * socket (wait.h): it turns readable once when the child ends, so a wait is
 * "waitpid(WNOHANG), else ax__io_wait()". Without pidfd_open() the wait
 * falls back on ax_signal_wait(SIGCHLD), in slices of 50 ms because a
 * SIGCHLD that arrives between the waitpid() and the registration of the
 * signal waiter would be missed otherwise. Either way only this child's
 * pid is reaped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "axon/error.h"
#include "axon/loop.h"
#include "axon/net.h"
#include "axon/process.h"
#include "axon/signal.h"
#include "axon/task.h"
#include "handle.h"
#include "wait.h"

#define PROC_MAGIC 0xA7D9D931u
/* The fallback's re-check period (see the file comment). */
#define SIGCHLD_SLICE_NS 50000000

extern char **environ;

struct ax_process {
    nh_head h; /* first: see handle.h */
    ax__io io; /* on pidfd, when there is one */
    ax_loop *loop;
    ax_sock *pipes[3];
    pid_t pid;
    int pidfd; /* -1: the SIGCHLD fallback */
    int status;
    bool reaped;
    bool waiting; /* a task is in ax_process_wait() (fallback's EBUSY) */
};

static nh_pool proc_pool = NH_POOL_INIT;

static inline int live(const ax_process *p)
{
    if (!p)
        return AX_EINVAL;
    return nh_live(p, PROC_MAGIC) ? 0 : AX_ESRCH;
}

/* live() and the owner loop: the checks of every call that changes p. */
static inline int owned(const ax_process *p)
{
    int rc = live(p);

    if (rc)
        return rc;
    return p->loop == ax_loop_current() ? 0 : AX_EWRONGLOOP;
}

/* ---- spawn --------------------------------------------------------------- */

/* Look @p name up as execvp() would, into @p buf. The first executable
 * regular file wins; if there is none, EACCES when one was found but
 * could not be run, ENOENT otherwise. */
static int find_program(const char *name, char *buf, size_t cap,
                        const char **path)
{
    const char *dirs = getenv("PATH"), *p;
    int err = -ENOENT;
    size_t nlen = strlen(name);

    if (strchr(name, '/')) {
        if (access(name, X_OK) < 0)
            return -errno;
        *path = name;
        return 0;
    }
    if (!dirs || !*dirs)
        dirs = "/usr/local/bin:/usr/bin:/bin";
    for (p = dirs;;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        const char *dir = dlen ? p : "."; /* empty: the working directory */
        struct stat st;
        if (!dlen)
            dlen = 1;
        if (dlen + 1 + nlen < cap) {
            memcpy(buf, dir, dlen);
            buf[dlen] = '/';
            memcpy(buf + dlen + 1, name, nlen + 1);
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(buf, X_OK) == 0) {
                    *path = buf;
                    return 0;
                }
                err = -EACCES;
            }
        }
        if (!end)
            return err;
        p = end + 1;
    }
}

/* A pipe for the child's descriptor @p i: the child's end in *child, the
 * parent's in *parent; both close-on-exec (the child's gets its number
 * through dup2, which clears the flag on the copy only). */
static int make_pipe(int i, int *child, int *parent)
{
    int fds[2];

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    *child = i == 0 ? fds[0] : fds[1];
    *parent = i == 0 ? fds[1] : fds[0];
    return 0;
}

static int spawn(ax_process *p, const char *path, const char *const *argv,
                 const ax_process_opts *o, int parent[3])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    int child[3] = {-1, -1, -1}, rc, i;
    char *const *envp = o && o->env ? (char *const *)o->env : environ;

    if ((rc = posix_spawn_file_actions_init(&fa)))
        return -rc;
    if ((rc = posix_spawnattr_init(&attr))) {
        rc = -rc;
        goto fail_fa;
    }
    /* The child starts clean: nothing blocked, every signal default (an
     * application that ignores SIGPIPE must not hand that to `cat`). */
    sigemptyset(&none);
    sigfillset(&all);
    if ((rc = posix_spawnattr_setsigmask(&attr, &none)) ||
        (rc = posix_spawnattr_setsigdefault(&attr, &all)) ||
        (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF))) {
        rc = -rc;
        goto fail_attr;
    }
    if (o && o->cwd) {
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCHDIR_NP
        if ((rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd))) {
            rc = -rc;
            goto fail_attr;
        }
#else
        rc = -ENOSYS;
        goto fail_attr;
#endif
    }
    for (i = 0; i < 3; i++) {
        ax_stdio m = o ? o->stdio[i] : AX_STDIO_INHERIT;
        if (m == AX_STDIO_PIPE) {
            if ((rc = make_pipe(i, &child[i], &parent[i])))
                goto fail_pipes;
            rc = posix_spawn_file_actions_adddup2(&fa, child[i], i);
        } else if (m == AX_STDIO_NULL) {
            rc = posix_spawn_file_actions_addopen(
                &fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        }
        if (rc) {
            rc = -rc;
            goto fail_pipes;
        }
    }
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
    /* Also the application's descriptors that lack O_CLOEXEC. */
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3))) {
        rc = -rc;
        goto fail_pipes;
    }
#endif
    rc = -posix_spawn(&p->pid, path, &fa, &attr, (char *const *)argv, envp);

fail_pipes:
    for (i = 0; i < 3; i++) {
        if (child[i] >= 0)
            close(child[i]);
        if (rc && parent[i] >= 0) {
            close(parent[i]);
            parent[i] = -1;
        }
    }
fail_attr:
    posix_spawnattr_destroy(&attr);
fail_fa:
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    const char *off = getenv("AX_NO_PIDFD");

    if (off && *off && strcmp(off, "0"))
        return -1;
    /* O_CLOEXEC is implied: a pidfd is always close-on-exec. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    return -1;
#endif
}

/* Kill and reap a child we are giving up on. SIGKILL cannot be caught, so
 * the blocking waitpid() ends as soon as the kernel has torn it down. */
static void reap_hard(ax_process *p)
{
    int st;

    if (p->reaped)
        return;
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
        ;
    p->reaped = true;
}

static void proc_free(ax_process *p)
{
    for (int i = 0; i < 3; i++)
        if (p->pipes[i])
            ax_close(p->pipes[i]);
    reap_hard(p);
    if (p->pidfd >= 0) {
        ax__io_term(&p->io);
        close(p->pidfd);
    }
    nh_put(&proc_pool, p);
}

int ax_process_spawn(ax_process **out, const char *const *argv,
                     const ax_process_opts *opts)
{
    char buf[PATH_MAX];
    const char *path = NULL;
    int parent[3] = {-1, -1, -1}, rc, i;
    ax_process *p;

    if (!out || !argv || !argv[0] || !argv[0][0])
        return AX_EINVAL;
    for (i = 0; opts && i < 3; i++)
        if ((unsigned)opts->stdio[i] > AX_STDIO_NULL)
            return AX_EINVAL;
    if (!ax_loop_current())
        return AX_EPERM;
    if ((rc = find_program(argv[0], buf, sizeof buf, &path)))
        return rc;
    /* Checked here too, for the same reason as the program. */
    if (opts && opts->cwd) {
        struct stat st;
        if (stat(opts->cwd, &st) < 0)
            return -errno;
        if (!S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    p = nh_get(&proc_pool, sizeof *p, PROC_MAGIC);
    if (!p)
        return AX_ENOMEM;
    p->loop = ax_loop_current();
    p->pidfd = -1;
    if ((rc = spawn(p, path, argv, opts, parent))) {
        nh_put(&proc_pool, p);
        return rc;
    }
    /* From here the child runs: a failure must kill and reap it. */
    for (i = 0; i < 3; i++) {
        if (parent[i] < 0)
            continue;
        if ((rc = ax_sock_wrap(parent[i], &p->pipes[i]))) {
            for (; i < 3; i++)
                if (parent[i] >= 0)
                    close(parent[i]);
            goto fail;
        }
    }
    p->pidfd = open_pidfd(p->pid);
    if (p->pidfd >= 0 && (rc = ax__io_init(&p->io, p->pidfd))) {
        close(p->pidfd);
        p->pidfd = -1;
        goto fail;
    }
    *out = p;
    return 0;

fail:
    proc_free(p);
    return rc;
}

/* ---- the handle ---------------------------------------------------------- */

pid_t ax_process_pid(const ax_process *p)
{
    int rc = live(p);

    return rc ? rc : p->pid;
}

ax_sock *ax_process_pipe(ax_process *p, int fd)
{
    if (live(p) || fd < 0 || fd > 2)
        return NULL;
    return p->pipes[fd];
}

int ax_process_close_pipe(ax_process *p, int fd)
{
    int rc = owned(p);

    if (rc)
        return rc;
    if (fd < 0 || fd > 2 || !p->pipes[fd])
        return AX_EINVAL;
    if ((rc = ax_close(p->pipes[fd])))
        return rc;
    p->pipes[fd] = NULL;
    return 0;
}

int ax_process_kill(ax_process *p, int sig)
{
    int rc = live(p);

    if (rc)
        return rc;
    if (sig < 0 || sig >= NSIG)
        return AX_EINVAL;
    if (p->reaped)
        return AX_EALREADY;
#ifdef SYS_pidfd_send_signal
    if (p->pidfd >= 0)
        return syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0
                   ? -errno
                   : 0;
#endif
    /* Not reaped, so the pid cannot have been reused yet. */
    return kill(p->pid, sig) < 0 ? -errno : 0;
}

/* Reap the child if it has ended: 1 if so, 0 if it runs, or an error. */
static int try_reap(ax_process *p)
{
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->status = st;
            p->reaped = true;
            return 1;
        }
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno; /* ECHILD: somebody else reaped it */
    }
}

static int wait_sigchld(ax_process *p, int64_t dl)
{
    int rc;

    if (p->waiting)
        return AX_EBUSY;
    p->waiting = true;
    for (;;) {
        int64_t now = ax__clock_ns(), until = now + SIGCHLD_SLICE_NS;
        if ((rc = try_reap(p)))
            break;
        if (dl != -1 && now >= dl) {
            rc = AX_ETIMEDOUT;
            break;
        }
        if (dl != -1 && dl < until)
            until = dl;
        rc = ax_signal_wait_dl(SIGCHLD, until);
        if (rc && rc != AX_ETIMEDOUT)
            break;
    }
    p->waiting = false;
    return rc < 0 ? rc : 0;
}

static int proc_wait(ax_process *p, int *status, int64_t dl)
{
    int rc = owned(p);

    if (rc)
        return rc;
    if (dl < -1)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (!p->reaped) {
        if (p->pidfd < 0) {
            rc = wait_sigchld(p, dl);
        } else if (!(rc = ax__io_enter(&p->io, AX__IO_READ))) {
            while (!(rc = try_reap(p)))
                if ((rc = ax__io_wait(&p->io, AX__IO_READ, dl)))
                    break;
            rc = rc < 0 ? rc : 0;
        }
        if (rc)
            return rc;
    }
    if (status)
        *status = p->status;
    return 0;
}

int ax_process_wait(ax_process *p, int *status, double timeout)
{
    int64_t dl = -1;
    int rc = timeout < 0 ? 0 : ax__deadline_after(timeout, &dl);

    return rc ? rc : proc_wait(p, status, dl);
}

int ax_process_wait_dl(ax_process *p, int *status, int64_t deadline)
{
    return proc_wait(p, status, deadline);
}

int ax_process_free(ax_process *p)
{
    int rc = owned(p);

    if (rc)
        return rc;
    if (p->waiting || (p->pidfd >= 0 && ax__io_busy(&p->io)))
        return AX_EBUSY;
    /* A pipe in use stops the free; the ones closed before it stay
     * closed (the handle remains valid). */
    for (int i = 0; i < 3; i++) {
        if (p->pipes[i] && (rc = ax_close(p->pipes[i])))
            return rc;
        p->pipes[i] = NULL;
    }
    proc_free(p);
    return 0;
}
