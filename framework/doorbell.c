/* SPDX-License-Identifier: MIT */
/*
 * The doorbell: the one place that knows whether a loop is woken through an
 * eventfd or a pipe. Both look the same to the rest: a read end for the
 * event_base, ring() and drain(). configure picks eventfd where
 * <sys/eventfd.h> exists unless --disable-eventfd.
 */
#include "inbox.h"
#include "axon.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#if AX_USE_EVENTFD
#include <sys/eventfd.h>
#endif

int ax__bell_init(ax__bell *b)
{
#if AX_USE_EVENTFD
    b->rfd = b->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return b->rfd < 0 ? AX_ENOMEM : 0;
#else
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        return AX_ENOMEM;
    b->rfd = fds[0];
    b->wfd = fds[1];
    return 0;
#endif
}

void ax__bell_term(ax__bell *b)
{
    if (b->rfd >= 0)
        close(b->rfd);
    if (b->wfd >= 0 && b->wfd != b->rfd)
        close(b->wfd);
    b->rfd = b->wfd = -1;
}

/* A full pipe or a saturated eventfd already means "wake up", so EAGAIN is
 * success here; EINTR is retried. */
void ax__bell_ring(ax__bell *b)
{
#if AX_USE_EVENTFD
    uint64_t one = 1;
    while (write(b->wfd, &one, sizeof one) < 0 && errno == EINTR)
        ;
#else
    char c = 1;
    while (write(b->wfd, &c, 1) < 0 && errno == EINTR)
        ;
#endif
}

void ax__bell_drain(ax__bell *b)
{
#if AX_USE_EVENTFD
    uint64_t v;
    while (read(b->rfd, &v, sizeof v) < 0 && errno == EINTR)
        ;
#else
    char buf[256];
    while (read(b->rfd, buf, sizeof buf) == (ssize_t)sizeof buf)
        ;
#endif
}

const char *ax__bell_name(void)
{
    return AX_USE_EVENTFD ? "eventfd" : "pipe";
}
