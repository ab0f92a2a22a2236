/* SPDX-License-Identifier: MIT */
/**
 * @file axon/error.h
 * @brief Error codes.
 *
 * Every axon function that can fail returns 0 on success or a negative
 * `AX_E*` code. Where a POSIX errno fits, the code is its negation
 * (`AX_EINVAL == -EINVAL`), so codes from the kernel pass through unchanged;
 * axon's own conditions live in a reserved range, -4001 to -4999. errno is
 * never the error channel.
 *
 * A task may fail with any negative code of its own choosing. Codes in the
 * user range, AX_ERR_USER_LAST (-5999) to AX_ERR_USER_FIRST (-5000), can be
 * given a name and a text with ax_err_register(), and then read as well as
 * axon's own in reports and from ax_strerror() / ax_err_name(). Other
 * negated errno values get the C library's name and text; anything else is
 * shown by its number ("unknown error -777").
 */
#ifndef AXON_ERROR_H
#define AXON_ERROR_H

#include <errno.h>

#include "axon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One list generates the enum, ax_strerror() and ax_err_name(). */
#define AX_ERRNO_MAP(X)                                                       \
    X(EINVAL, -EINVAL, "invalid argument")                                    \
    X(ENOMEM, -ENOMEM, "out of memory")                                       \
    X(ECANCELED, -ECANCELED, "operation canceled")                            \
    X(ETIMEDOUT, -ETIMEDOUT, "operation timed out")                           \
    X(EAGAIN, -EAGAIN, "resource temporarily unavailable")                    \
    X(EBUSY, -EBUSY, "already awaited or owned by someone else")              \
    X(EDEADLK, -EDEADLK, "would deadlock")                                    \
    X(EALREADY, -EALREADY, "already done")                                    \
    X(ESRCH, -ESRCH, "no such task, future or actor")                         \
    X(EPERM, -EPERM, "operation not permitted here")                          \
    X(ESHUTDOWN, -ESHUTDOWN, "the loop or runtime is shutting down")          \
    X(EPIPE, -EPIPE, "broken pipe or stream ended")                           \
    X(ECONNRESET, -ECONNRESET, "connection reset by peer")                    \
    X(ECONNREFUSED, -ECONNREFUSED, "connection refused")                      \
    X(EADDRINUSE, -EADDRINUSE, "address already in use")                      \
    X(EMFILE, -EMFILE, "too many open files")                                 \
    X(ENFILE, -ENFILE, "too many open files in system")                       \
    X(E2BIG, -E2BIG, "too long")                                              \
    X(EBADF, -EBADF, "bad descriptor")                                        \
    X(EOVERFLOW, -EOVERFLOW,                                                  \
      "value too large (a semaphore released too many times)")                \
    X(ENOTTASK, -4001, "must be called from inside a task")                   \
    X(EPENDING, -4002, "not done yet")                                        \
    X(EWRONGLOOP, -4003, "object belongs to another loop")                    \
    X(ENOTACTOR, -4004, "must be called from inside an actor")               \
    X(ENESTED, -4005,                                                         \
      "this thread already runs a loop: call ax_run from a plain thread")     \
    X(EBROKEN, -4006,                                                         \
      "the barrier is broken (aborted, or reset while waiting)")              \
    X(ENAME, -4010,                                                           \
      "host name not resolved (use a numeric address or localhost)")         \
    X(ERESTARTS, -4011, "too many restarts: the supervisor gave up")          \
    X(EQSHUTDOWN, -4012, "the queue was shut down")                           \
    X(ETRUNC, -4030,                                                          \
      "datagram truncated: it was longer than the buffer")                    \
    X(ETLS, -4040,                                                            \
      "TLS handshake or record failed (ax_tls_last_error() has the reason)")  \
    X(ETLSVERIFY, -4041,                                                      \
      "TLS peer certificate not trusted or not for this host")                \
    X(ETLSFILE, -4042, "TLS certificate, key or CA file not usable")          \
    X(ENORESPONDERS, -4050,                                                   \
      "no responders: no actor is registered under that name on any node")   \
    X(ENODEDOWN, -4051, "the remote node is down (its heartbeats stopped)")   \
    X(ENATS, -4052, "the NATS client library failed")                         \
    X(EBADFRAME, -4053, "not an axon message (malformed bytes)")           \
    X(ENONAME, -4020,                                                         \
      "host name not found (NXDOMAIN or no address; ax_dns_last_error() "     \
      "has the resolver's reason)")                                           \
    X(EDNSFAIL, -4021,                                                        \
      "name server failed, refused or did not answer (ax_dns_last_error() "   \
      "has the resolver's reason)")                                           \
    X(ESERVICE, -4022, "service name unknown or not valid for the socket type") \
    X(ENOTSUP, -4070,                                                         \
      "not supported on a shared-stack task (ax_task_opts.shared_stack)")

/** The error codes. All are negative; 0 means success. */
typedef enum ax_errno {
#define AX__ERR_ENUM(name, value, text) AX_##name = (value),
    AX_ERRNO_MAP(AX__ERR_ENUM)
#undef AX__ERR_ENUM
    AX_OK = 0
} ax_errno;

/** The user range for ax_err_register(): AX_ERR_USER_LAST <= code <=
 *  AX_ERR_USER_FIRST. axon never returns these codes itself. */
#define AX_ERR_USER_FIRST (-5000)
#define AX_ERR_USER_LAST (-5999)

/**
 * Describe an error code.
 * @param code any value returned by axon, or a task's own failure code.
 * @return never NULL: "success" for 0; axon's text, a registered text
 *         (ax_err_register()) or the C library's text for a negated errno;
 *         for any other code "unknown error N", written into a buffer of
 *         the calling thread that the next such call on that thread
 *         overwrites (copy it to keep it). Every other answer is a static
 *         string. Any thread; does not suspend.
 */
AX_EXTERN const char *ax_strerror(int code);

/**
 * The symbolic name of an error code ("AX_EINVAL").
 * @return never NULL: "AX_OK" for 0; axon's names; a registered name; the
 *         C library's name for another negated errno ("ENOENT"); for any
 *         other code its number ("-777"), in a per-thread buffer as for
 *         ax_strerror(). Any thread; does not suspend.
 */
AX_EXTERN const char *ax_err_name(int code);

/**
 * Name one of your own failure codes, so that teardown reports,
 * ax_strerror() and ax_err_name() show it like axon's own:
 * `ax_err_register(-5001, "APP_EQUOTA", "quota exceeded")`.
 * @param code  in [AX_ERR_USER_LAST, AX_ERR_USER_FIRST].
 * @param name  the symbolic name; not copied: it must stay valid for the
 *              rest of the process (a string literal).
 * @param text  the description; not copied, as @p name.
 * @return 0; AX_EINVAL for a code outside the user range or a NULL or
 *         empty @p name or @p text; AX_EALREADY if @p code already has a
 *         name (the first registration stands; there is no unregister).
 * Thread: any, at any time, also before or without ax_run(); lookups never
 * block. Suspends: no.
 */
AX_EXTERN int ax_err_register(int code, const char *name, const char *text);

#ifdef __cplusplus
}
#endif
#endif
