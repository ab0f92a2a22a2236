/* SPDX-License-Identifier: MIT */
/*
 * cli.c: srv_parse() and the usage text for the example servers; see
 * cli.h for the conventions.
 */
#include "cli.h"

#include <axon.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NCOMMON 3 /* --host, --port, --loops */
#define WIDTH 79  /* the usage line wraps before this column */

/* The defaults as the usage shows them: the values before parsing. */
static void defaults(const srv_cli *cli, const char **host, int *port,
                     int *loops)
{
    bool parsed = cli->shown_.host != NULL;

    *host = parsed ? cli->shown_.host : cli->host;
    *port = parsed ? cli->shown_.port : cli->port;
    *loops = parsed ? cli->shown_.loops : cli->loops;
}

/* The rows every program has. They point into @cli, so they are made per
 * call rather than kept in a static table. */
static void common_rows(srv_cli *cli, srv_opt rows[NCOMMON])
{
    rows[0] = (srv_opt){.name = "host", .meta = "H", .kind = SRV_STRING,
                        .dst = &cli->host};
    rows[1] = (srv_opt){.name = "port", .meta = "N", .kind = SRV_INT,
                        .dst = &cli->port, .min = cli->client ? 1 : 0,
                        .max = 65535};
    rows[2] = (srv_opt){.name = "loops", .meta = "N", .kind = SRV_INT,
                        .dst = &cli->loops, .min = 1, .max = AX_LOOPS_MAX};
}

/* ---- usage ---------------------------------------------------------------- */

/* The common rows, then the program's own, as one list. */
static const srv_opt *row_at(const srv_cli *cli, const srv_opt *common,
                             size_t i)
{
    if (i < NCOMMON)
        return &common[i];
    i -= NCOMMON;
    for (const srv_opt *o = cli->opts; o && o->name; o++, i--)
        if (i == 0)
            return o;
    return NULL;
}

/* "512M" for exact multiples of a power of 1024, else the plain number. */
static void fmt_size(char *buf, size_t n, double v)
{
    static const char suffix[] = "GMK";
    long long x = (long long)v;

    for (int i = 0; i < 3; i++) {
        long long unit = 1LL << (10 * (3 - i));
        if (x != 0 && x % unit == 0) {
            snprintf(buf, n, "%lld%c", x / unit, suffix[i]);
            return;
        }
    }
    snprintf(buf, n, "%lld", x);
}

/* The help text of a common row, with the program's defaults. */
static void common_help(const srv_cli *cli, const srv_opt *o, char *buf,
                        size_t n)
{
    const char *host;
    int port, loops;

    defaults(cli, &host, &port, &loops);
    if (!strcmp(o->name, "host"))
        snprintf(buf, n, "%s (default %s)",
                 cli->client ? "server address" : "address to listen on",
                 host);
    else if (!strcmp(o->name, "port") && cli->port_required)
        snprintf(buf, n, "%s (required)",
                 cli->client ? "server port" : "TCP port");
    else if (!strcmp(o->name, "port"))
        snprintf(buf, n, "%s (default %d%s)",
                 cli->client ? "server port" : "TCP port", port,
                 cli->client ? "" : "; 0: any free port");
    else if (loops == AX_LOOPS_PER_CPU)
        snprintf(buf, n, "event loops / threads (default: one per CPU)");
    else
        snprintf(buf, n, "event loops / threads (default %d)", loops);
}

/* Print @text at column @col, continuing after each '\n' at @col. */
static void print_help(FILE *f, const char *text, int col)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n')
            fprintf(f, "%*s", col, "");
    }
    fputc('\n', f);
}

void srv_usage(const srv_cli *cli, FILE *f)
{
    srv_opt common[NCOMMON];
    const srv_opt *o;
    char word[128], help[128];
    int col, indent, width = (int)strlen("-h, --help");

    common_rows((srv_cli *)cli, common); /* only read here */
    indent = fprintf(f, "usage: %s", cli->prog);
    col = indent;
    /* A required --port comes first, unbracketed. */
    if (cli->port_required)
        col += fprintf(f, " --port N");
    for (size_t i = 0; (o = row_at(cli, common, i)) != NULL; i++) {
        int len = o->kind == SRV_FLAG
                      ? snprintf(word, sizeof word, "--%s", o->name)
                      : snprintf(word, sizeof word, "--%s %s", o->name,
                                 o->meta);
        if (len > width)
            width = len;
        if (o == &common[1] && cli->port_required)
            continue;
        if (o->kind == SRV_CHOICE) { /* the words: [--mode a|b] */
            len = snprintf(word, sizeof word, "--%s ", o->name);
            for (const srv_choice *c = o->choices;
                 c->name && len < (int)sizeof word; c++)
                len += snprintf(word + len, sizeof word - (size_t)len, "%s%s",
                                c == o->choices ? "" : "|", c->name);
        }
        if (col + len + 3 > WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        }
        col += fprintf(f, " [%s]", word);
    }
    fputc('\n', f);
    if (cli->about)
        fprintf(f, "  %s\n", cli->about);
    for (size_t i = 0; (o = row_at(cli, common, i)) != NULL; i++) {
        if (o->kind == SRV_FLAG)
            snprintf(word, sizeof word, "--%s", o->name);
        else
            snprintf(word, sizeof word, "--%s %s", o->name, o->meta);
        fprintf(f, "  %-*s  ", width, word);
        if (i < NCOMMON)
            common_help(cli, o, help, sizeof help);
        print_help(f, i < NCOMMON ? help : o->help, width + 4);
    }
    fprintf(f, "  %-*s  this text\n", width, "-h, --help");
    if (!cli->client)
        fprintf(f, "Prints \"listening on HOST:PORT\" when ready; "
                   "SIGINT/SIGTERM stop it.\n");
}

int srv_usage_error(const srv_cli *cli, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", cli->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    srv_usage(cli, stderr);
    return 2;
}

/* ---- values --------------------------------------------------------------- */

/* A whole decimal integer; with @suffix, K, M or G may follow. */
static bool parse_integer(const char *s, bool suffix, long long *out)
{
    char *end;
    long long v;
    int shift = 0;

    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || errno == ERANGE)
        return false;
    if (suffix && *end) {
        shift = strchr("kK", *end)   ? 10
                : strchr("mM", *end) ? 20
                : strchr("gG", *end) ? 30
                                     : 0;
        if (shift) {
            end++;
            if (llabs(v) > LLONG_MAX >> shift)
                return false;
            v *= 1LL << shift;
        }
    }
    if (*end)
        return false;
    *out = v;
    return true;
}

/* Check @v against @o and store it; print what is wrong and return false
 * otherwise. */
static bool set_value(const srv_cli *cli, const srv_opt *o, const char *v)
{
    char lo[32], hi[32];
    long long n = 0;
    double d = 0;

    switch (o->kind) {
    case SRV_STRING:
        *(const char **)o->dst = v;
        return true;
    case SRV_FLAG:
        *(bool *)o->dst = true;
        return true;
    case SRV_CHOICE:
        for (const srv_choice *c = o->choices; c->name; c++) {
            if (!strcmp(c->name, v)) {
                *(int *)o->dst = c->value;
                return true;
            }
        }
        fprintf(stderr, "%s: --%s: '%s' is not one of:", cli->prog, o->name,
                v);
        for (const srv_choice *c = o->choices; c->name; c++)
            fprintf(stderr, "%s %s", c == o->choices ? "" : ",", c->name);
        fputc('\n', stderr);
        return false;
    case SRV_SECONDS:
        if (*v && !isspace((unsigned char)*v)) {
            char *end;
            d = strtod(v, &end);
            if (!*end && d >= o->min && d <= o->max) { /* NaN fails */
                *(double *)o->dst = d;
                return true;
            }
        }
        fprintf(stderr, "%s: --%s: '%s' is not a number of seconds in "
                        "[%g, %g]\n",
                cli->prog, o->name, v, o->min, o->max);
        return false;
    case SRV_INT:
    case SRV_LLONG:
    case SRV_SIZE:
    case SRV_BYTES:
        break;
    }
    if (parse_integer(v, o->kind == SRV_BYTES, &n) && (double)n >= o->min &&
        (double)n <= o->max) {
        if (o->kind == SRV_INT)
            *(int *)o->dst = (int)n;
        else if (o->kind == SRV_LLONG)
            *(long long *)o->dst = n;
        else
            *(size_t *)o->dst = (size_t)n;
        return true;
    }
    if (o->kind == SRV_BYTES) {
        fmt_size(lo, sizeof lo, o->min);
        fmt_size(hi, sizeof hi, o->max);
    } else {
        snprintf(lo, sizeof lo, "%lld", (long long)o->min);
        snprintf(hi, sizeof hi, "%lld", (long long)o->max);
    }
    fprintf(stderr, "%s: --%s: '%s' is not %s in [%s, %s]%s\n", cli->prog,
            o->name, v, o->kind == SRV_BYTES ? "a size" : "an integer", lo,
            hi, o->kind == SRV_BYTES ? " (K, M, G suffixes allowed)" : "");
    return false;
}

/* ---- the command line ----------------------------------------------------- */

int srv_parse(srv_cli *cli, int argc, char **argv)
{
    srv_opt common[NCOMMON];
    bool port_given = false;

    cli->shown_.host = cli->host ? cli->host : "";
    cli->shown_.port = cli->port;
    cli->shown_.loops = cli->loops;
    common_rows(cli, common);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v, *eq;
        const srv_opt *o = NULL;
        size_t len;

        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            srv_usage(cli, stdout);
            return 0;
        }
        if (a[0] != '-')
            return srv_usage_error(cli, "unexpected argument '%s'", a);
        if (a[1] != '-' || a[2] == '\0')
            return srv_usage_error(cli, "unknown option '%s'", a);
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        for (size_t k = 0; (o = row_at(cli, common, k)) != NULL; k++)
            if (strlen(o->name) == len && !strncmp(o->name, a + 2, len))
                break;
        if (o == NULL) {
            if (len == 4 && !strncmp(a + 2, "help", 4))
                return srv_usage_error(cli, "--help takes no value");
            return srv_usage_error(cli, "unknown option '%.*s'", (int)len + 2,
                                   a);
        }
        if (o->kind == SRV_FLAG && eq)
            return srv_usage_error(cli, "--%s takes no value", o->name);
        if (o->kind == SRV_FLAG)
            v = "";
        else if (eq)
            v = eq + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        else
            return srv_usage_error(cli, "--%s needs a value", o->name);
        if (!set_value(cli, o, v)) {
            srv_usage(cli, stderr);
            return 2;
        }
        if (o->given)
            *o->given = true;
        port_given |= o == &common[1];
    }
    if (cli->port_required && !port_given)
        return srv_usage_error(cli, "--port is required");
    return -1;
}
