/* SPDX-License-Identifier: MIT */
/* The installed allocator (axon/alloc.h) and the guard that keeps it from
 * changing under a running runtime. */
#include "alloc.h"

#include <stdatomic.h>

ax_allocator ax__allocator;

/* Counts a runtime from the moment ax_run() is entered, so a change
 * refused here cannot pull memory from under any started runtime (a change
 * racing with the entry itself is misuse, as the header says). */
static atomic_int runtimes;

void ax__alloc_runtime(int delta)
{
    atomic_fetch_add_explicit(&runtimes, delta, memory_order_acq_rel);
}

int ax_set_allocator(const ax_allocator *a)
{
    if (a && (!a->alloc || !a->resize || !a->release))
        return AX_EINVAL;
    if (atomic_load_explicit(&runtimes, memory_order_acquire) != 0)
        return AX_EBUSY;
    if (a)
        ax__allocator = *a;
    else
        memset(&ax__allocator, 0, sizeof ax__allocator);
    return 0;
}

int ax_get_allocator(ax_allocator *out)
{
    if (!out)
        return AX_EINVAL;
    *out = ax__allocator;
    return 0;
}
