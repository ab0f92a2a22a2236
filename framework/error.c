/* SPDX-License-Identifier: MIT */
/* Error names and texts, generated from AX_ERRNO_MAP; users' registered
 * codes; and the report sink. */
#include "loop_impl.h"
#include "axon.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define NUSER (AX_ERR_USER_FIRST - AX_ERR_USER_LAST + 1)

/* Written once under the lock, then read without it from any thread: the
 * text is stored before the name is published (release), so a reader that
 * sees the name (acquire) sees the text. 8 KiB of pointers for the whole
 * range, cheaper than any lookup structure. */
static _Atomic(const char *) user_name[NUSER];
static const char *user_text[NUSER];
static pthread_mutex_t user_lock = PTHREAD_MUTEX_INITIALIZER;

/* Unknown codes are shown by number; a per-thread buffer keeps the answer
 * valid while the caller prints it, without a lock or an allocation. */
static _Thread_local char unknown_text[32], unknown_name[16];

int ax_err_register(int code, const char *name, const char *text)
{
    int i = AX_ERR_USER_FIRST - code, rc = 0;

    if (code > AX_ERR_USER_FIRST || code < AX_ERR_USER_LAST || !name ||
        !*name || !text || !*text)
        return AX_EINVAL;
    pthread_mutex_lock(&user_lock);
    if (atomic_load_explicit(&user_name[i], memory_order_relaxed)) {
        rc = AX_EALREADY;
    } else {
        user_text[i] = text;
        atomic_store_explicit(&user_name[i], name, memory_order_release);
    }
    pthread_mutex_unlock(&user_lock);
    return rc;
}

static const char *user_lookup(int code, bool want_text)
{
    const char *name;
    int i;

    if (code > AX_ERR_USER_FIRST || code < AX_ERR_USER_LAST)
        return NULL;
    i = AX_ERR_USER_FIRST - code;
    name = atomic_load_explicit(&user_name[i], memory_order_acquire);
    if (!name)
        return NULL;
    return want_text ? user_text[i] : name;
}

const char *ax_strerror(int code)
{
    const char *d;

    switch (code) {
    case 0:
        return "success";
#define AX__ERR_TEXT(name, value, text)                                       \
    case (value):                                                             \
        return text;
        AX_ERRNO_MAP(AX__ERR_TEXT)
#undef AX__ERR_TEXT
    default:
        break;
    }
    if ((d = user_lookup(code, true)))
        return d;
    /* Other kernel errors passed through: glibc's static description
     * (strerror() itself is not thread-safe). */
    if (code < 0 && code > -4000 && (d = strerrordesc_np(-code)))
        return d;
    snprintf(unknown_text, sizeof unknown_text, "unknown error %d", code);
    return unknown_text;
}

const char *ax_err_name(int code)
{
    const char *d;

    switch (code) {
    case 0:
        return "AX_OK";
#define AX__ERR_NAME(name, value, text)                                       \
    case (value):                                                             \
        return "AX_" #name;
        AX_ERRNO_MAP(AX__ERR_NAME)
#undef AX__ERR_NAME
    default:
        break;
    }
    if ((d = user_lookup(code, false)))
        return d;
    if (code < 0 && code > -4000 && (d = strerrorname_np(-code)))
        return d;
    snprintf(unknown_name, sizeof unknown_name, "%d", code);
    return unknown_name;
}

/* Misuse and teardown reports all go through here so that a test can point
 * them at a tmpfile and a server can point them at its log. */
void ax__report(ax_loop *L, const char *fmt, ...)
{
    FILE *out = (L && L->report) ? L->report : stderr;
    va_list ap;

    fputs("axon: ", out);
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fputc('\n', out);
    fflush(out);
}
