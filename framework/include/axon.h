/* SPDX-License-Identifier: MIT */
/**
 * @file axon.h
 * @brief axon: asyncio's model in C — loops, stackful tasks, futures, await,
 * gather, locks and the other synchronisation primitives — on libevent.
 *
 * Include this one header; link with `pkg-config --cflags --libs axon`.
 * Start with ax_run() (runtime.h) and ax_spawn() (task.h).
 */
#ifndef AXON_H
#define AXON_H

#include "axon/common.h"
#include "axon/error.h"
#include "axon/loop.h"
#include "axon/task.h"
#include "axon/future.h"
#include "axon/time.h"
#include "axon/gather.h"
#include "axon/sync.h"
#include "axon/scope.h"
#include "axon/runtime.h"
#include "axon/net.h"
#include "axon/queue.h"
#include "axon/signal.h"
#include "axon/udp.h"
#include "axon/process.h"
#include "axon/alloc.h"
#include "axon/thread.h"
#include "axon/file.h"
#include "axon/dns.h"
#include "axon/features.h"
#if AXON_HAVE_ACTORS
#include "axon/actor.h"
#include "axon/supervisor.h"
#endif

#define AXON_VERSION_MAJOR 0
#define AXON_VERSION_MINOR 1
#define AXON_VERSION_PATCH 0

#endif
