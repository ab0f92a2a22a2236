/* SPDX-License-Identifier: MIT */
/*
 * Whole-file read and write (<axon/file.h>) on the thread pool, through
 * the public ax_to_thread_with() only.
 *
 * A job's argument must outlive a cancelled caller (the job keeps
 * running), so each call puts its arguments and results in one malloc'd
 * struct: the caller frees it when the job came back, the release
 * callback when the caller had left.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/error.h"
#include "axon/file.h"
#include "axon/loop.h"
#include "axon/thread.h"

typedef struct fjob {
    char *path;
    const void *wbuf; /* write: the caller's data, copied (see below) */
    size_t len, max;
    char *rbuf;
    int rc;
} fjob;

static void fjob_free(void *result, void *arg)
{
    fjob *j = arg;

    (void)result;
    free(j->rbuf);
    free((void *)j->wbuf);
    free(j->path);
    free(j);
}

static void *read_job(void *arg)
{
    fjob *j = arg;
    struct stat st;
    size_t cap, n = 0;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        j->rc = -errno;
        return j;
    }
    if (fstat(fd, &st) < 0) {
        j->rc = -errno;
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        j->rc = -EISDIR;
        goto out;
    }
    /* st_size is a hint: files in /proc say 0, and a file may grow. */
    cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    if (cap > j->max + 1)
        cap = j->max + 1;
    for (;;) {
        ssize_t r;
        if (n + 1 >= cap) {
            char *nb;
            if (cap > j->max) {
                j->rc = AX_E2BIG;
                goto out;
            }
            cap = cap * 2 > j->max + 1 ? j->max + 1 : cap * 2;
            if (!(nb = realloc(j->rbuf, cap))) {
                j->rc = AX_ENOMEM;
                goto out;
            }
            j->rbuf = nb;
        }
        if (!j->rbuf && !(j->rbuf = malloc(cap))) {
            j->rc = AX_ENOMEM;
            goto out;
        }
        r = read(fd, j->rbuf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            j->rc = -errno;
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > j->max) {
            j->rc = AX_E2BIG;
            goto out;
        }
    }
    j->rbuf[n] = '\0';
    j->len = n;
out:
    close(fd);
    return j;
}

int ax_file_read(const char *path, void **buf, size_t *len, size_t max,
                 int64_t deadline)
{
    ax_thread_opts o = {.release = fjob_free};
    fjob *j;
    int rc;

    if (!path || !*path || !buf || !len || deadline < -1)
        return AX_EINVAL;
    if (deadline != -1 && deadline <= ax_now_ns())
        return AX_ETIMEDOUT; /* so that ETIMEDOUT below means "left" */
    if (!(j = calloc(1, sizeof *j)) || !(j->path = strdup(path))) {
        free(j);
        return AX_ENOMEM;
    }
    j->max = max ? max : AX_FILE_READ_MAX;
    if ((rc = ax_to_thread_with(read_job, j, NULL, deadline, &o))) {
        /* A job left behind is freed by its release, called once. */
        if (rc != AX_ECANCELED && rc != AX_ETIMEDOUT)
            fjob_free(NULL, j);
        return rc;
    }
    if ((rc = j->rc) == 0) {
        *buf = j->rbuf;
        *len = j->len;
        j->rbuf = NULL;
    }
    fjob_free(NULL, j);
    return rc;
}

static void *write_job(void *arg)
{
    fjob *j = arg;
    char tmp[PATH_MAX];
    const char *slash = strrchr(j->path, '/');
    size_t done = 0;
    int fd, n;

    /* The temporary file sits beside the target: rename() is atomic only
     * within one file system. */
    if (slash)
        n = snprintf(tmp, sizeof tmp, "%.*s/.%s.axtmpXXXXXX",
                     (int)(slash - j->path), j->path, slash + 1);
    else
        n = snprintf(tmp, sizeof tmp, ".%s.axtmpXXXXXX", j->path);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        j->rc = -ENAMETOOLONG;
        return j;
    }
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        j->rc = -errno;
        return j;
    }
    {
        mode_t um = umask(0);
        umask(um); /* process-wide and racy, but only ever restored */
        fchmod(fd, 0666 & ~um);
    }
    while (done < j->len) {
        ssize_t w = write(fd, (const char *)j->wbuf + done, j->len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            j->rc = -errno;
            break;
        }
        done += (size_t)w;
    }
    if (!j->rc && fsync(fd) < 0)
        j->rc = -errno;
    if (close(fd) < 0 && !j->rc)
        j->rc = -errno;
    if (!j->rc && rename(tmp, j->path) < 0)
        j->rc = -errno;
    if (j->rc)
        unlink(tmp);
    return j;
}

int ax_file_write(const char *path, const void *buf, size_t len,
                  int64_t deadline)
{
    ax_thread_opts o = {.release = fjob_free};
    fjob *j;
    void *copy;
    int rc;

    if (!path || !*path || (!buf && len) || deadline < -1)
        return AX_EINVAL;
    if (deadline != -1 && deadline <= ax_now_ns())
        return AX_ETIMEDOUT;
    /* The data is copied: a cancelled caller may free its buffer while
     * the job still writes. */
    if (!(j = calloc(1, sizeof *j)) || !(j->path = strdup(path)) ||
        !(copy = malloc(len ? len : 1))) {
        if (j)
            free(j->path);
        free(j);
        return AX_ENOMEM;
    }
    if (len)
        memcpy(copy, buf, len);
    j->wbuf = copy;
    j->len = len;
    if ((rc = ax_to_thread_with(write_job, j, NULL, deadline, &o))) {
        if (rc != AX_ECANCELED && rc != AX_ETIMEDOUT)
            fjob_free(NULL, j);
        return rc;
    }
    rc = j->rc;
    fjob_free(NULL, j);
    return rc;
}
