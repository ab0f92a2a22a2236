/**
 * @file axon/error.h
 * @brief Error codes.
 *
 * Every axon function that can fail returns 0 on success or a negative
 * `AX_E*` code. Where a POSIX errno fits, the code is its negation
 * (`AX_EINVAL == -EINVAL`), so codes from the kernel pass through unchanged;
 * axon's own conditions live in a reserved range below -4000. errno is never
 * the error channel. A task may fail with any negative code of its own
 * choosing; ax_strerror() names the ones it knows, falls back to the C
 * library's text for other negated errno values, and says "unknown error"
 * for the rest.
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
    X(ENOTTASK, -4001, "must be called from inside a task")                   \
    X(EPENDING, -4002, "not done yet")                                        \
    X(EWRONGLOOP, -4003, "object belongs to another loop")                    \
    X(ENOTACTOR, -4004, "must be called from inside an actor")                \
    X(ENAME, -4010,                                                           \
      "host name not resolved (use a numeric address or localhost)")

/** The error codes. All are negative; 0 means success. */
typedef enum ax_errno {
#define AX__ERR_ENUM(name, value, text) AX_##name = (value),
    AX_ERRNO_MAP(AX__ERR_ENUM)
#undef AX__ERR_ENUM
    AX_OK = 0
} ax_errno;

/**
 * Describe an error code.
 * @param code any value returned by axon, or a task's own failure code.
 * @return a static string, never NULL ("success" for 0, "unknown error" for
 *         codes axon does not know). Any thread.
 */
AX_EXTERN const char *ax_strerror(int code);

/**
 * The symbolic name of an error code ("AX_EINVAL").
 * @return a static string, never NULL ("AX_OK" for 0, "AX_E?" if unknown).
 *         Any thread.
 */
AX_EXTERN const char *ax_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
