/* SPDX-License-Identifier: MIT */
/*
 * Build and platform facts every private header shares: config.h, which
 * sanitizer is on, the thread-local storage model, a CPU pause. Never
 * installed.
 */
#ifndef AX_PLATFORM_H
#define AX_PLATFORM_H

#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "axon/common.h"
#include "axon/error.h"
#include "alloc.h"

#ifndef AX_USE_EVENTFD
#ifdef HAVE_SYS_EVENTFD_H
#define AX_USE_EVENTFD 1
#else
#define AX_USE_EVENTFD 0
#endif
#endif

#ifndef AX_USE_EPOLL
#ifdef HAVE_SYS_EPOLL_H
#define AX_USE_EPOLL 1
#else
#define AX_USE_EPOLL 0
#endif
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AX_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define AX_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(AX_ASAN)
#define AX_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(AX_TSAN)
#define AX_TSAN 1
#endif

#define AX__TLS __thread __attribute__((tls_model("initial-exec")))

/* A polite busy-wait step: lets the sibling hyperthread run and saves
 * power while a loop polls its inbox before going to sleep. */
#if defined(__x86_64__) || defined(__i386__)
#define AX__CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define AX__CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define AX__CPU_RELAX() ((void)0)
#endif
#define AX__UNLIKELY(x) __builtin_expect(!!(x), 0)

#endif
