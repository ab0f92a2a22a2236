/* Error names and texts, generated from AX_ERRNO_MAP; and the report sink. */
#include "loop_impl.h"
#include "axon.h"

#include <stdarg.h>
#include <string.h>

const char *ax_strerror(int code)
{
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
    /* Other kernel errors passed through: glibc's static description
     * (strerror() itself is not thread-safe). */
    if (code < 0 && code > -4000) {
        const char *d = strerrordesc_np(-code);
        if (d)
            return d;
    }
    return "unknown error";
}

const char *ax_err_name(int code)
{
    switch (code) {
    case 0:
        return "AX_OK";
#define AX__ERR_NAME(name, value, text)                                       \
    case (value):                                                             \
        return "AX_" #name;
        AX_ERRNO_MAP(AX__ERR_NAME)
#undef AX__ERR_NAME
    default:
        return "AX_E?";
    }
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
