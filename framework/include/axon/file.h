/* SPDX-License-Identifier: MIT */
/**
 * @file axon/file.h
 * @brief Files without blocking the loop: whole-file read and write on the
 * runtime's thread pool (thread.h), and sendfile(2) to a socket.
 *
 * Regular files are always "ready" to the kernel's readiness interfaces, so
 * a read that misses the page cache blocks whatever thread makes it.
 * ax_file_read() and ax_file_write() therefore run on a pool thread and
 * suspend only the calling task. ax_sendfile() runs on the loop: the
 * kernel copies from the page cache to the socket, and the task waits for
 * the socket's room like ax_write() (a file not in the page cache still
 * makes that one call wait for the disk).
 *
 * Cancellation: as for ax_to_thread(), a cancelled read or write returns
 * AX_ECANCELED at once; a job already running finishes on its thread (a
 * write may so still complete) and anything it produced is freed.
 */
#ifndef AXON_FILE_H
#define AXON_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "axon/common.h"
#include "axon/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/** ax_file_read()'s limit when @p max is 0: 1 GiB. */
#define AX_FILE_READ_MAX ((size_t)1 << 30)

/**
 * Read the whole file at @p path.
 * @param buf receives a malloc'd buffer with the contents and a NUL byte
 *            after them (not counted); the caller frees it.
 * @param len receives the length.
 * @param max the largest file accepted; 0 means AX_FILE_READ_MAX.
 * @param deadline ns on ax_now_ns()'s clock, -1: none.
 * @return 0; the system's error, negated (-ENOENT: no such file;
 *         -EACCES; -EISDIR); AX_E2BIG if the file is larger than
 *         @p max; AX_EINVAL (NULL or empty @p path, NULL @p buf or
 *         @p len, a deadline below -1); AX_ETIMEDOUT; AX_ECANCELED;
 *         AX_ENOTTASK; AX_ENOMEM.
 * Thread: a task. Suspends: yes (the work runs on the pool).
 */
AX_EXTERN int ax_file_read(const char *path, void **buf, size_t *len,
                           size_t max, int64_t deadline);

/**
 * Write @p len bytes to the file at @p path, replacing it: the data goes
 * to a temporary file in the same directory that is then renamed over
 * @p path, so readers see the old contents or the new, never a part.
 * The new file has mode 0666 less the umask.
 * @return 0; the system's error, negated (-ENOENT for a missing
 *         directory, -EACCES, -ENOSPC); AX_EINVAL (NULL or empty
 *         @p path, NULL @p buf with @p len > 0, a deadline below -1);
 *         AX_ETIMEDOUT; AX_ECANCELED (the write may still complete);
 *         AX_ENOTTASK; AX_ENOMEM.
 * Thread: a task. Suspends: yes (the work runs on the pool).
 */
AX_EXTERN int ax_file_write(const char *path, const void *buf, size_t len,
                            int64_t deadline);

/**
 * Send @p count bytes of the file @p fd, from *@p offset on, to the
 * socket @p s with sendfile(2), waiting for room in the socket's send
 * buffer as ax_write_all() does. *@p offset is advanced by what was sent
 * (also on an error); @p fd's own file offset is not used or changed.
 * @return the bytes sent: @p count, or fewer if the file ended first;
 *         AX_EPIPE when the peer is gone; AX_ETIMEDOUT; AX_ECANCELED;
 *         AX_EBUSY if another task is writing @p s; AX_EINVAL (NULL
 *         @p s or @p offset, a negative @p fd, a deadline below -1); the
 *         system's error, negated (-EBADF, ...); AX_ENOTTASK;
 *         AX_EWRONGLOOP.
 * Thread: a task of @p s's loop. Suspends: while the send buffer is full.
 */
AX_EXTERN ssize_t ax_sendfile(ax_sock *s, int fd, off_t *offset,
                              size_t count, int64_t deadline);

#ifdef __cplusplus
}
#endif
#endif
